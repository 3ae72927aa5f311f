"""Drives shopgraph with the Python clients people use: SPARQLWrapper 2.0 (documented defaults
and setOnlyConneg), rdflib (SPARQLStore, SPARQLUpdateStore, SERVICE from a local graph) and
pyoxigraph's result parsers.

Usage: python_clients.py BASE_URL WRITES [QUERY_PATH UPDATE_PATH STORE_PATH]
(paths default to /sparql /sparql /store; the oxigraph server uses /query /update /store)
Prints one JSON object per case: {"case": "client/operation", "ok": bool, "detail": str}.
The Rust test (tests/it/clients.rs) holds the table of cases that must pass; this script only
runs them and reports. It never exits non-zero for a failing case, so every case reports.
"""

import io
import json
import sys
import traceback

from SPARQLWrapper import CSV, JSON, JSONLD, N3, RDFXML, TSV, TURTLE, XML, SPARQLWrapper
from SPARQLWrapper import POST, GET, POSTDIRECTLY, URLENCODED

BASE = sys.argv[1].rstrip("/")
WRITES = int(sys.argv[2])
QUERY_PATH, UPDATE_PATH, STORE_PATH = (sys.argv[3:6] + ["/sparql", "/sparql", "/store"][len(sys.argv[3:6]):])[:3]
ENDPOINT = BASE + QUERY_PATH
UPDATE = BASE + UPDATE_PATH
SG = "https://w3id.org/shopgraph/ontology#"
SELECT = f"SELECT ?r WHERE {{ ?r a <{SG}Review> }} ORDER BY ?r LIMIT 3"
ASK = f"ASK {{ ?r a <{SG}Review> }}"
CONSTRUCT = f"CONSTRUCT {{ ?r <http://ex.org/rated> ?x }} WHERE {{ ?r <{SG}rating> ?x }} ORDER BY ?r LIMIT 3"
DESCRIBE = f"DESCRIBE ?r WHERE {{ ?r a <{SG}Review> }} LIMIT 1"

results = []


def case(name):
    def wrap(f):
        try:
            detail = f()
            results.append({"case": name, "ok": True, "detail": str(detail or "")})
        except Exception as e:  # a failing client call is a result, not a crash
            tb = traceback.format_exception_only(type(e), e)[-1].strip()
            results.append({"case": name, "ok": False, "detail": tb[:500]})
        return f

    return wrap


def wrapper(only_conneg=False, method=GET):
    w = SPARQLWrapper(ENDPOINT, updateEndpoint=UPDATE)
    w.setOnlyConneg(only_conneg)
    w.setMethod(method)
    return w


def check_select(w, fmt):
    w.setQuery(SELECT)
    w.setReturnFormat(fmt)
    r = w.query()
    body = r.response.read()
    ct = r.response.headers.get("content-type", "")
    assert r.response.status == 200, r.response.status
    assert b"review/" in body, body[:200]
    return ct


def check_graph(w, query, fmt):
    w.setQuery(query)
    w.setReturnFormat(fmt)
    g = w.queryAndConvert()
    if isinstance(g, (bytes, str)):
        assert len(g) > 0
        return f"{len(g)} bytes"
    assert len(g) > 0, "empty graph"
    return f"{len(g)} triples"


for conneg in (False, True):
    label = "sparqlwrapper-conneg" if conneg else "sparqlwrapper"
    for method_name, method in (("GET", GET), ("POST", POST)):
        for fmt_name, fmt in (("json", JSON), ("xml", XML), ("csv", CSV), ("tsv", TSV)):
            case(f"{label}/select-{fmt_name}-{method_name}")(
                lambda c=conneg, m=method, f=fmt: check_select(wrapper(c, m), f)
            )

        @case(f"{label}/ask-{method_name}")
        def _ask(c=conneg, m=method):
            w = wrapper(c, m)
            w.setQuery(ASK)
            w.setReturnFormat(JSON)
            assert w.queryAndConvert()["boolean"] is True

        for fmt_name, fmt in (("turtle", TURTLE), ("n3", N3), ("rdfxml", RDFXML), ("jsonld", JSONLD)):
            case(f"{label}/construct-{fmt_name}-{method_name}")(
                lambda c=conneg, m=method, f=fmt: check_graph(wrapper(c, m), CONSTRUCT, f)
            )
            case(f"{label}/describe-{fmt_name}-{method_name}")(
                lambda c=conneg, m=method, f=fmt: check_graph(wrapper(c, m), DESCRIBE, f)
            )


def count(graph_iri):
    w = wrapper()
    w.setQuery(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph_iri}> {{ ?s ?p ?o }} }}")
    w.setReturnFormat(JSON)
    return int(w.queryAndConvert()["results"]["bindings"][0]["n"]["value"])


@case("sparqlwrapper/updates-in-a-row")
def _sw_updates():
    g = "http://ex.org/clients/sparqlwrapper"
    for i in range(WRITES):
        w = wrapper(method=POST)
        w.setRequestMethod(POSTDIRECTLY if i % 2 else URLENCODED)
        w.setQuery(f"INSERT DATA {{ GRAPH <{g}> {{ <http://ex.org/s{i}> <http://ex.org/p> {i} }} }}")
        w.query()
    n = count(g)
    assert n == WRITES, f"{WRITES - n} of {WRITES} writes lost"
    return f"{n} of {WRITES} writes stored"


@case("rdflib/sparqlstore-select")
def _rdflib_store():
    from rdflib import Graph
    from rdflib.plugins.stores.sparqlstore import SPARQLStore

    g = Graph(store=SPARQLStore(ENDPOINT))
    rows = list(g.query(SELECT))
    assert len(rows) == 3, rows
    assert bool(g.query(ASK)), "ASK false"


@case("rdflib/sparqlstore-construct")
def _rdflib_construct():
    from rdflib import Graph
    from rdflib.plugins.stores.sparqlstore import SPARQLStore

    g = Graph(store=SPARQLStore(ENDPOINT))
    assert len(g.query(CONSTRUCT).graph) == 3


@case("rdflib/sparqlupdatestore-writes-in-a-row")
def _rdflib_update():
    from rdflib import Graph, Literal, URIRef
    from rdflib.plugins.stores.sparqlstore import SPARQLUpdateStore

    store = SPARQLUpdateStore(ENDPOINT, UPDATE)
    gi = URIRef("http://ex.org/clients/rdflib")
    g = Graph(store=store, identifier=gi)
    for i in range(WRITES):
        g.add((URIRef(f"http://ex.org/r{i}"), URIRef("http://ex.org/p"), Literal(i)))
    n = count(str(gi))
    assert n == WRITES, f"{WRITES - n} of {WRITES} writes lost"
    g.remove((URIRef("http://ex.org/r0"), None, None))
    assert count(str(gi)) == WRITES - 1
    return f"{n} of {WRITES} writes stored"


@case("rdflib/service-from-a-local-graph")
def _rdflib_service():
    from rdflib import Graph

    rows = list(Graph().query(f"SELECT ?r WHERE {{ SERVICE <{ENDPOINT}> {{ ?r a <{SG}Review> }} }} LIMIT 2"))
    assert len(rows) == 2, rows


@case("pyoxigraph/parse-json-xml-tsv")
def _pyoxigraph():
    import urllib.parse
    import urllib.request

    from pyoxigraph import QueryResultsFormat, parse_query_results

    for accept, fmt in (
        ("application/sparql-results+json", QueryResultsFormat.JSON),
        ("application/sparql-results+xml", QueryResultsFormat.XML),
        ("text/tab-separated-values", QueryResultsFormat.TSV),
    ):  # pyoxigraph cannot parse CSV results (lossy by design), so CSV is not asked of it
        url = ENDPOINT + "?" + urllib.parse.urlencode({"query": SELECT})
        req = urllib.request.Request(url, headers={"Accept": accept})
        with urllib.request.urlopen(req) as resp:
            rows = list(parse_query_results(io.BytesIO(resp.read()), fmt))
        assert len(rows) == 3, (accept, rows)


@case("graph-store/put-get-post-delete")
def _gsp():
    import urllib.request

    url = BASE + STORE_PATH + "?graph=" + "http%3A%2F%2Fex.org%2Fclients%2Fgsp"
    for method, body in (("PUT", b"<http://ex.org/a> <http://ex.org/p> 1 ."), ("POST", b"<http://ex.org/b> <http://ex.org/p> 2 .")):
        req = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "text/turtle"})
        with urllib.request.urlopen(req) as resp:
            assert resp.status in (201, 204), resp.status
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "application/n-triples"})) as resp:
        assert resp.read().count(b"\n") == 2
    with urllib.request.urlopen(urllib.request.Request(url, method="DELETE")) as resp:
        assert resp.status == 204


for r in results:
    print(json.dumps(r), flush=True)
