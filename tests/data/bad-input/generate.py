"""Writes corpus.jsonl: requests that must each get a 4xx or a success from shopgraph, never a
5xx or a crash, and that change nothing when refused. Hand-written cases (the ones that once
broke the server, and the classics) plus seeded mutations of valid requests: truncations,
byte flips, duplicated and dropped brackets, odd Unicode, huge numbers, wrong content types.

Run: python3 tests/data/bad-input/generate.py  (deterministic; the output is committed)
Each line: {"name", "method", "path", "content_type", "body"} with body as text, or
"body_hex" for bytes that are not UTF-8.
"""

import json
import random
import urllib.parse
from pathlib import Path

rng = random.Random(20261129)
cases = []


def add(name, method, path, content_type=None, body=None, raw=None):
    c = {"name": name, "method": method, "path": path, "content_type": content_type}
    if raw is not None:
        c["body_hex"] = raw.hex()
    else:
        c["body"] = body
    cases.append(c)


def q(**kw):
    return urllib.parse.urlencode(kw)


SELECTS = [
    "SELECT * WHERE { ?s ?p ?o } LIMIT 5",
    "PREFIX sg: <https://w3id.org/shopgraph/ontology#> SELECT ?r ?x WHERE { ?r sg:rating ?x FILTER(?x > 3) } ORDER BY ?r LIMIT 3",
    "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s a ?c } } GROUP BY ?g",
    "ASK { ?s <http://schema.org/name> \"x\"@en }",
    "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } LIMIT 2",
    "DESCRIBE <https://w3id.org/shopgraph/id/product/1077>",
    "SELECT ?s WHERE { ?s <http://www.w3.org/2004/02/skos/core#broader>+ ?t } LIMIT 3",
    "SELECT ?x WHERE { VALUES ?x { 1 2 3 } BIND(?x * 2 AS ?y) OPTIONAL { ?x ?p ?o } }",
]
UPDATES = [
    "INSERT DATA { <http://ex.org/a> <http://ex.org/b> \"c\" }",
    "DELETE WHERE { <http://ex.org/nothing> ?p ?o }",
    "INSERT DATA { GRAPH <http://ex.org/g> { <http://ex.org/a> <http://ex.org/b> 1 } }",
    "WITH <http://ex.org/g> DELETE { ?s ?p ?o } INSERT { ?s ?p 2 } WHERE { ?s ?p ?o }",
]
TURTLE = [
    "@prefix ex: <http://ex.org/> . ex:a ex:b ex:c ; ex:d \"e\"@en , 1.5e3 .",
    "<http://ex.org/s> <http://ex.org/p> [ <http://ex.org/q> ( 1 2 3 ) ] .",
]
JSONLD = '{"@context": {"ex": "http://ex.org/"}, "@id": "ex:a", "ex:b": [{"@id": "ex:c"}, {"@value": "d"}]}'
RDFXML = '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://ex.org/"><rdf:Description rdf:about="http://ex.org/a"><ex:b>c</ex:b></rdf:Description></rdf:RDF>'
EVENT = '{"user": "u1", "item": "1077", "event": "view"}'

# --- hand-written: the requests that once crashed, flooded or poisoned the server ---
# Long nests go in bodies: a URI past 64 KiB is refused by the HTTP layer before shopgraph sees it.
add("5000 nested braces", "POST", "/sparql", "application/sparql-query", "SELECT * WHERE " + "{" * 5000 + "?s ?p ?o" + "}" * 5000)
add("1000 nested braces by GET", "GET", "/sparql?" + q(query="SELECT * WHERE " + "{" * 1000 + "?s ?p ?o" + "}" * 1000))
add("2000 nested FILTER NOT EXISTS", "POST", "/sparql", "application/sparql-query",
    "SELECT * WHERE { ?s ?p ?o " + "FILTER NOT EXISTS { ?s ?p ?o " * 2000 + "}" * 2000 + " }")
add("nested update braces", "POST", "/sparql", "application/sparql-update",
    "INSERT { <http://ex.org/a> <http://ex.org/b> 1 } WHERE " + "{" * 5000 + "}" * 5000)
add("nested OPTIONALs", "POST", "/sparql", "application/sparql-query", "SELECT * WHERE { ?s ?p ?o " + "OPTIONAL { ?s ?p ?o " * 3000 + "}" * 3000 + " }")
add("deep parentheses", "POST", "/sparql", "application/sparql-query", "SELECT * WHERE { ?s ?p ?o FILTER(" + "(" * 4000 + "1" + ")" * 4000 + ") }")
add("deep blank node lists", "POST", "/sparql", "application/sparql-query", "ASK { ?s ?p " + "[ ?p " * 3000 + "1" + " ]" * 3000 + " }")
add("5000 nested JSON-LD objects", "PUT", "/store?graph=http://ex.org/j", "application/ld+json",
    '{"http://ex.org/p": ' * 5000 + '"x"' + "}" * 5000)
add("5000 nested JSON-LD arrays", "POST", "/store?default", "application/ld+json", "[" * 5000 + "]" * 5000)
add("billion laughs", "PUT", "/store?graph=http://ex.org/x", "application/rdf+xml",
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="http://ex.org/s"><rdf:value>&c;</rdf:value></rdf:Description></rdf:RDF>')
add("external entity", "PUT", "/store?graph=http://ex.org/x", "application/rdf+xml",
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="http://ex.org/s"><rdf:value>&x;</rdf:value></rdf:Description></rdf:RDF>')
add("JSON-LD remote context", "PUT", "/store?graph=http://ex.org/j", "application/ld+json",
    '{"@context": "http://127.0.0.1:1/context.jsonld", "@id": "http://ex.org/a", "b": "c"}')
add("LOAD file", "POST", "/sparql", "application/sparql-update", "LOAD <file:///etc/passwd>")
add("LOAD loopback", "POST", "/sparql", "application/sparql-update", "LOAD <http://127.0.0.1:1/x> INTO GRAPH <http://ex.org/l>")
add("SERVICE outside", "GET", "/sparql?" + q(query="SELECT * { SERVICE <http://127.0.0.1:1/sparql> { ?s ?p ?o } }"))
add("SERVICE variable", "GET", "/sparql?" + q(query="SELECT * { SERVICE ?x { ?s ?p ?o } }"))
add("sg:recommend with a bad k", "GET", "/sparql?" + q(query="PREFIX sg: <https://w3id.org/shopgraph/ontology#> SELECT * { SERVICE sg:recommend { ?i sg:recommendedFor <https://w3id.org/shopgraph/id/user/x> . sg:request sg:k \"many\" } }"))
add("sg:recommend with k 10^9", "GET", "/sparql?" + q(query="PREFIX sg: <https://w3id.org/shopgraph/ontology#> SELECT * { SERVICE sg:recommend { ?i sg:recommendedFor <https://w3id.org/shopgraph/id/user/x> . sg:request sg:k 1000000000 } }"))
for params in ["factors=100000", "factors=0", "factors=-1", "regularization=NaN", "regularization=inf", "regularization=-1",
               "iterations=1e8", "iterations=100000000", "alpha=NaN", "cg_steps=0", "algorithm=ease&lambda=0",
               "algorithm=ease&lambda=-3", "algorithm=item_knn&neighbours=0", "algorithm=ease&half_life=0",
               "algorithm=nope", "solver=qr", "seed=-1", "factors=1.5", "factors=%FF"]:
    add(f"train {params}", "POST", "/train?" + params)
for weight in ["1e39", "-1", "1e308", "100000", "\"heavy\"", "null", "[]"]:
    add(f"event weight {weight}", "POST", "/events", "application/json",
        '{"user": "u1", "item": "1077", "event": "view", "weight": ' + weight + "}")
for bad in ['{"user": "", "item": "1077", "event": "view"}', '{"user": "u", "item": "nope-item", "event": "view"}',
            '{"user": "u", "item": "1077", "event": "teleport"}', '{"user": "u", "item": "1077", "event": "view", "timestamp": "yesterday"}',
            '{"user": "u", "item": "1077", "event": "rating", "value": 99}', "[" * 200 + "]" * 200, "{", "", "\u0000",
            '{"user": "u", "item": "1077", "event": "view", "extra": {"deep": ' + "[" * 100 + "]" * 100 + "}}"]:
    add("bad event", "POST", "/events", "application/json", bad)
for path in ["/recommend", "/recommend?user=", "/recommend?user=u&k=0", "/recommend?user=u&k=-1", "/recommend?user=u&k=1e9",
             "/recommend?user=u&k=99999999999999999999", "/recommend?user=u&min_price=NaN", "/recommend?user=u&max_price=inf",
             "/recommend?user=u&category=not%20an%20iri", "/recommend?user=u&in_stock=maybe", "/recommend?user=u&user=v",
             "/recommend?user=u&cold_start=false", "/similar", "/similar?item=", "/similar?item=nope", "/explain?user=u",
             "/explain?user=u&item=nope", "/explain?user=u&item=1077&format=pdf", "/nearest", "/nearest?text=", "/nearest?text=x&k=100000",
             "/queries/none", "/queries/product-reviews", "/queries/product-reviews?product=", "/queries/product-reviews?product=1077&min_rating=high",
             "/queries/top-rated-products?min_reviews=-5", "/queries/products-in-category?category=%00", "/store", "/store?graph=",
             "/store?graph=relative", "/store?graph=http://ex.org/none", "/store?default&graph=http://ex.org/g", "/sparql",
             "/sparql?query=", "/sparql?query=%FF%FE", "/sparql?query=SELECT&query=ASK", "/sparql?update=CLEAR%20ALL",
             "/sparql?" + q(query="ASK {}", **{"default-graph-uri": "not an iri"}),
             "/sparql?" + q(query="ASK {}", **{"named-graph-uri": "::"}), "/model", "/audit?limit=0", "/audit?limit=x",
             "/keys/none", "/nowhere", "/%2e%2e/%2e%2e/etc/passwd", "/" + "a" * 5000]:
        add(f"GET {path[:60]}", "GET", path)
for path, ct, body in [
    ("/analyze", "application/json", '{"text": ""}'), ("/analyze", "application/json", '{"texts": []}'),
    ("/analyze", "application/json", '{"texts": ' + json.dumps(["x"] * 300) + "}"), ("/analyze", "application/json", '{"text": 5}'),
    ("/analyze", "text/plain", ""), ("/analyze", "application/xml", "<x/>"), ("/keys", "application/json", '{"name": "", "role": "reader"}'),
    ("/keys", "application/json", '{"name": "x", "role": "god"}'), ("/keys", "application/json", "nope"),
    ("/sparql", "text/plain", "ASK {}"), ("/sparql", "application/x-www-form-urlencoded", "query=ASK{}&update=CLEAR%20ALL"),
    ("/sparql", "application/x-www-form-urlencoded", "nothing=here"), ("/sparql", "application/x-www-form-urlencoded", "query=%FF"),
    ("/sparql", "application/sparql-update", "DROP GRAPH <http://ex.org/none>"), ("/sparql", "application/sparql-update", "CREATE GRAPH <https://w3id.org/shopgraph/graph/ontology>"),
    ("/sparql", "application/sparql-update", "INSERT DATA { GRAPH <http://ex.org/x> { <a> <b> <c> } }"),
    ("/sparql", "application/sparql-update", "INSERT { ?s ?p ?o } USING <http://ex.org/g> WHERE { ?s ?p ?o }"),
]:
    add(f"POST {path} {body[:40]}", "POST", path, ct, body)
add("not UTF-8 update", "POST", "/sparql", "application/sparql-update", raw=b"INSERT DATA { <http://ex.org/a> <http://ex.org/b> \"\xff\xfe\" }")
add("not UTF-8 turtle", "PUT", "/store?graph=http://ex.org/u", "text/turtle", raw=b"<http://ex.org/a> <http://ex.org/b> \"\xc3\x28\" .")
add("PDF as turtle", "PUT", "/store?graph=http://ex.org/u", "text/turtle", raw=b"%PDF-1.4\n\x00\x01\x02\x03")
for ct in ["application/pdf", "text/html", "", "multipart/form-data; boundary=x", "text/turtle; charset=latin1"]:
    add(f"GSP content type {ct!r}", "PUT", "/store?graph=http://ex.org/u", ct or None, "<http://ex.org/a> <http://ex.org/b> 1 .")
for method in ["PATCH", "OPTIONS", "TRACE", "DELETE"]:
    add(f"{method} /sparql", method, "/sparql")

ODD = ["\u0000", "\u202e", "\ufeff", "\ud7ff", "\U0001f600", "\u0301", "\x7f", "\\u0000", "\\", "'''", '"""', "<", ">", "%00", "#"]


def mutate(text):
    kind = rng.randrange(8)
    if not text:
        return text
    i = rng.randrange(len(text))
    if kind == 0:
        return text[:i]  # truncated
    if kind == 1:
        return text[:i] + rng.choice(ODD) + text[i:]  # odd character inserted
    if kind == 2:
        return text[:i] + text[i + 1:]  # character dropped
    if kind == 3:
        return text[:i] + rng.choice("{}()[]<>\"'.;,?$@^") + text[i:]  # stray punctuation
    if kind == 4:
        return text[:i] + text[i:i + 20] * rng.randrange(2, 50) + text[i:]  # repeated chunk
    if kind == 5:
        return text.replace(" ", rng.choice(["", "\t", "\n", "  "]), rng.randrange(1, 5))
    if kind == 6:
        return text[:i] + str(rng.choice([10**40, -(10**40), 1e308, float("nan")])) + text[i:]
    return "".join(reversed(text[i:])) + text[:i]  # scrambled


while len(cases) < 1200:
    pick = rng.randrange(7)
    if pick == 0:
        add("mutated query by GET", "GET", "/sparql?" + q(query=mutate(rng.choice(SELECTS))))
    elif pick == 1:
        add("mutated query by POST", "POST", "/sparql", "application/sparql-query", mutate(rng.choice(SELECTS)))
    elif pick == 2:
        add("mutated update", "POST", "/sparql", "application/sparql-update", mutate(rng.choice(UPDATES)))
    elif pick == 3:
        add("mutated turtle", "PUT", "/store?graph=http://ex.org/m", "text/turtle", mutate(rng.choice(TURTLE)))
    elif pick == 4:
        add("mutated JSON-LD", "POST", "/store?graph=http://ex.org/m", "application/ld+json", mutate(JSONLD))
    elif pick == 5:
        add("mutated RDF/XML", "PUT", "/store?graph=http://ex.org/m", "application/rdf+xml", mutate(RDFXML))
    else:
        add("mutated event", "POST", "/events", "application/json", mutate(EVENT))

out = Path(__file__).with_name("corpus.jsonl")
with out.open("w", encoding="utf-8") as f:
    for c in cases:
        f.write(json.dumps(c, ensure_ascii=True) + "\n")
print(f"{len(cases)} cases -> {out}")
