#!/usr/bin/env python3
"""shopgraph's SHACL validator against pySHACL (an independent, W3C-test-suite-passing
implementation) on the same shapes and data: the project's fixture shop (real review rows,
synthetic catalogue and interactions) with seeded mutations that break the shapes in every way
they can be broken, plus SHACL Core feature cases the shipped shapes do not use. Compares the
(focus node, constraint component, path) of every result, and times both.

Usage: python3 benches/shacl_vs_pyshacl.py [--bin target/release/shopgraph] [--mutations 200]
Needs pyshacl and rdflib (pip). Writes benches/results/shacl_vs_pyshacl.json.
"""
import argparse
import json
import os
import random
import re
import subprocess
import tempfile
import time

import pyshacl
import rdflib
from rdflib import Literal, Namespace, URIRef
from rdflib.namespace import RDF, XSD

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SG = Namespace("https://w3id.org/shopgraph/ontology#")
SH = Namespace("http://www.w3.org/ns/shacl#")


def run(bin_, *args):
    out = subprocess.run([bin_, *args], capture_output=True, text=True)
    if out.returncode not in (0, 1):
        raise SystemExit(f"shopgraph {args} failed: {out.stderr}")
    return out


def mutate(g, n, seed):
    """Breaks the data n times, each a different way a shop's feed goes wrong."""
    rnd = random.Random(seed)
    reviews = sorted(set(g.subjects(RDF.type, SG.Review)))
    products = sorted(set(g.subjects(RDF.type, SG.Product)))
    offers = sorted(set(g.subjects(RDF.type, SG.Offer)))
    interactions = sorted(set(g.subjects(RDF.type, SG.Interaction)))
    kinds = []
    for i in range(n):
        kind = i % 9
        if kind == 0 and reviews:
            r = rnd.choice(reviews)
            g.remove((r, SG.rating, None))
            g.add((r, SG.rating, Literal(rnd.choice([0, 6, 7, 42]))))
        elif kind == 1 and products:
            g.remove((rnd.choice(products), SG.productId, None))
        elif kind == 2 and offers:
            o = rnd.choice(offers)
            g.remove((o, SG.price, None))
            g.add((o, SG.price, Literal("-5.00", datatype=XSD.decimal)))
        elif kind == 3 and offers:
            o = rnd.choice(offers)
            g.remove((o, SG.currency, None))
            g.add((o, SG.currency, Literal(rnd.choice(["dollars", "usd", "EURO"]))))
        elif kind == 4 and reviews:
            r = rnd.choice(reviews)
            g.remove((r, SG.reviewOf, None))
            g.add((r, SG.reviewOf, SG["aspect-fit"]))
        elif kind == 5 and products:
            g.add((rnd.choice(products), SG.productId, Literal(f"extra-{i}")))
        elif kind == 6 and interactions:
            it = rnd.choice(interactions)
            g.remove((it, SG.weight, None))
            g.add((it, SG.weight, Literal(rnd.choice(["abc", "-1", "1e9"]), datatype=XSD.double)))
        elif kind == 7 and reviews:
            g.add((rnd.choice(reviews), SG.recommended, Literal("maybe", datatype=XSD.boolean)))
        elif kind == 8 and interactions:
            g.remove((rnd.choice(interactions), SG.user, None))
        kinds.append(kind)
    return kinds


def keys_of_pyshacl(results_graph):
    out = set()
    for r in results_graph.subjects(RDF.type, SH.ValidationResult):
        focus = results_graph.value(r, SH.focusNode)
        comp = results_graph.value(r, SH.sourceConstraintComponent)
        path = results_graph.value(r, SH.resultPath)
        out.add((focus.n3(), str(comp).split("#")[-1], path.n3() if isinstance(path, URIRef) else ""))
    return out


def keys_of_shopgraph(report):
    out = set()
    for r in report["results"]:
        path = r.get("resultPath", "")
        # pySHACL's keys carry single-predicate paths only (a complex path is a blank node).
        single = re.fullmatch(r"<[^<>]*>", path) is not None
        out.add((r["focusNode"], r["sourceConstraintComponent"].split("#")[-1], path if single else ""))
    return out


FEATURE_SHAPES = """
@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix ex: <http://ex.org/> . @prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
ex:S a sh:NodeShape ; sh:targetClass ex:C ;
  sh:closed true ; sh:ignoredProperties ( rdf:type ) ;
  sh:property [ sh:path ex:p ; sh:or ( [ sh:datatype xsd:string ] [ sh:datatype xsd:integer ] ) ; sh:maxCount 2 ] ;
  sh:property [ sh:path ex:label ; sh:languageIn ( "en" "fr" ) ; sh:uniqueLang true ] ;
  sh:property [ sh:path ex:start ; sh:lessThan ex:end ] ;
  sh:property [ sh:path ex:end ] ;
  sh:property [ sh:path ex:part ; sh:qualifiedValueShape [ sh:class ex:Wheel ] ; sh:qualifiedMinCount 2 ] ;
  sh:property [ sh:path ( ex:part ex:size ) ; sh:datatype xsd:integer ; sh:maxInclusive 30 ] ;
  sh:property [ sh:path [ sh:zeroOrMorePath ex:next ] ; sh:maxCount 3 ] ;
  sh:property [ sh:path ex:next ; sh:not [ sh:class ex:Banned ] ] .
"""

FEATURE_DATA = """
@prefix ex: <http://ex.org/> .
ex:a a ex:C ; ex:p "x", 3 ; ex:label "hi"@en, "salut"@fr ; ex:start 1 ; ex:end 2 ; ex:part ex:w1, ex:w2 .
ex:w1 a ex:Wheel ; ex:size 20 . ex:w2 a ex:Wheel ; ex:size 31 .
ex:b a ex:C ; ex:p true, 1, 2 ; ex:label "hallo"@de, "hi"@en, "ho"@en ; ex:start 3 ; ex:end 2 ; ex:part ex:w1 ; ex:colour "red" ;
  ex:next ex:n1 . ex:n1 ex:next ex:n2 . ex:n2 ex:next ex:n3 . ex:n3 a ex:Banned .
ex:c a ex:C ; ex:next ex:c2 . ex:c2 a ex:Banned .
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "shopgraph"))
    ap.add_argument("--mutations", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    shop, empty = os.path.join(tmp, "shop"), os.path.join(tmp, "empty")
    fixture = os.path.join(ROOT, "tests", "data", "fixture")
    run(a.bin, "load", "--data", shop, *[os.path.join(fixture, f) for f in ["reviews-sample.csv", "products.jsonl", "interactions.csv"]])
    data_nt = os.path.join(tmp, "data.nt")
    run(a.bin, "dump", "--data", shop, "--graph", "default", "--format", "nt", "-o", data_nt)
    context = rdflib.Graph()
    for g in ["https://w3id.org/shopgraph/graph/ontology", "https://w3id.org/shopgraph/graph/taxonomy"]:
        path = os.path.join(tmp, "ctx.nt")
        run(a.bin, "dump", "--data", shop, "--graph", g, "--format", "nt", "-o", path)
        context.parse(path, format="nt")
    shapes_ttl = os.path.join(ROOT, "ontology", "shapes.ttl")
    data = rdflib.Graph()
    data.parse(data_nt, format="nt")
    kinds = mutate(data, a.mutations, a.seed)
    mutated = os.path.join(tmp, "mutated.nt")
    data.serialize(mutated, format="nt")
    print(f"data: {len(data)} triples after {a.mutations} mutations; context {len(context)} triples", flush=True)

    cases = {}
    # The shipped shapes on the mutated shop.
    t = time.perf_counter()
    ours = json.loads(run(a.bin, "validate", "--data", empty, "--format", "json", mutated).stdout)
    t_ours = time.perf_counter() - t
    # pySHACL reads the same file shopgraph reads (rdflib may normalise literals in memory).
    data = rdflib.Graph().parse(mutated, format="nt")
    t = time.perf_counter()
    conforms, results_graph, _ = pyshacl.validate(data + context, shacl_graph=shapes_ttl, inference="none")
    t_py = time.perf_counter() - t
    cases["shop data, shipped shapes"] = (keys_of_shopgraph(ours), keys_of_pyshacl(results_graph), t_ours, t_py)
    # SHACL Core features the shipped shapes do not use.
    feat_shapes, feat_data = os.path.join(tmp, "f-shapes.ttl"), os.path.join(tmp, "f-data.ttl")
    open(feat_shapes, "w").write(FEATURE_SHAPES)
    open(feat_data, "w").write(FEATURE_DATA)
    feat = os.path.join(tmp, "feat")
    run(a.bin, "load", "--data", feat, feat_shapes, "--graph", "https://w3id.org/shopgraph/graph/shapes-extra")
    # Replace the store's shapes with the feature shapes (an engineer's PUT does the same).
    run(a.bin, "update", "--data", feat, "DROP GRAPH <https://w3id.org/shopgraph/graph/shapes> ; ADD <https://w3id.org/shopgraph/graph/shapes-extra> TO <https://w3id.org/shopgraph/graph/shapes> ; DROP GRAPH <https://w3id.org/shopgraph/graph/shapes-extra>")
    t = time.perf_counter()
    ours = json.loads(run(a.bin, "validate", "--data", feat, "--format", "json", feat_data).stdout)
    t_ours = time.perf_counter() - t
    fd = rdflib.Graph().parse(feat_data, format="turtle")
    t = time.perf_counter()
    _, rg, _ = pyshacl.validate(fd, shacl_graph=feat_shapes, inference="none")
    t_py = time.perf_counter() - t
    cases["SHACL Core features"] = (keys_of_shopgraph(ours), keys_of_pyshacl(rg), t_ours, t_py)

    out = {"mutations": a.mutations, "kinds": sorted(set(kinds)), "cases": {}}
    for name, (mine, theirs, t_ours, t_py) in cases.items():
        both = mine & theirs
        row = {
            "shopgraph_results": len(mine),
            "pyshacl_results": len(theirs),
            "agree": len(both),
            "only_shopgraph": sorted(mine - theirs)[:20],
            "only_pyshacl": sorted(theirs - mine)[:20],
            "shopgraph_s": t_ours,
            "pyshacl_s": t_py,
            "pyshacl_over_shopgraph": t_py / t_ours,
        }
        out["cases"][name] = row
        print(f"{name}: shopgraph {len(mine)}, pySHACL {len(theirs)}, agree {len(both)}; "
              f"time {t_ours:.2f}s vs {t_py:.2f}s", flush=True)
        for k in row["only_shopgraph"][:5]:
            print("  only shopgraph:", k)
        for k in row["only_pyshacl"][:5]:
            print("  only pySHACL:", k)
    path = os.path.join(ROOT, "benches", "results", "shacl_vs_pyshacl.json")
    json.dump(out, open(path, "w"), indent=2)


if __name__ == "__main__":
    main()
