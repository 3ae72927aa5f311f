"""Builds the labelled product-search query set of the demo catalogue (tests/data/search).

Each query is written with its intent (which garment classes it asks for, which words in the
reviews show the property it asks for, which it asks to be absent); every product of the
23,486-review demo is judged by the rules in tests/data/search/GUIDELINES.md from the raw CSV,
never from shopgraph's index or models. A third of the queries (by a hash of the id) form the
development share used to choose search settings; the rest is the untouched test share.

    python3 benches/search_queries.py
"""
import csv, collections, hashlib, os, re, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSV = os.path.join(ROOT, "tests/data/demo/womens-clothing-reviews.csv")
OUT = os.path.join(ROOT, "tests/data/search")

TOPS = ["Blouses", "Knits", "Fine gauge", "Sweaters"]
KNITWEAR = ["Sweaters", "Fine gauge", "Knits"]
BOTTOMS = ["Pants", "Jeans", "Skirts", "Shorts", "Casual bottoms"]
SLEEP = ["Sleep", "Lounge", "Chemises"]

# (qid, query, kind, classes, departments, terms (regex, any), absent (regex), division)
Q = [
    # category words
    ("c01", "dresses", "category", ["Dresses"], [], [], [], None),
    ("c02", "jeans", "category", ["Jeans"], ["Bottoms"], [], [], None),
    ("c03", "skirt", "category", ["Skirts"], ["Bottoms"], [], [], None),
    ("c04", "shorts", "category", ["Shorts"], ["Bottoms"], [], [], None),
    ("c05", "sweaters", "category", ["Sweaters"], ["Tops"], [], [], None),
    ("c06", "blouse", "category", ["Blouses"], ["Tops"], [], [], None),
    ("c07", "pants", "category", ["Pants"], ["Bottoms"], [], [], None),
    ("c08", "jacket", "category", ["Jackets", "Outerwear"], ["Jackets"], [], [], None),
    ("c09", "coat", "category", ["Outerwear", "Jackets"], ["Jackets"], [r"\bcoats?\b"], [], None),
    ("c10", "swimsuit", "category", ["Swim"], [], [], [], None),
    ("c11", "bikini", "category", ["Swim"], [], [r"\bbikini"], [], None),
    ("c12", "pajamas", "category", SLEEP, ["Intimate"], [r"\bpajama|\bpj|\bpyjama"], [], None),
    ("c13", "leggings", "category", ["Legwear", "Pants"], [], [r"\blegging"], [], None),
    ("c14", "bra", "category", ["Intimates"], ["Intimate"], [r"\bbras?\b|\bbralette"], [], None),
    ("c15", "cardigan", "category", KNITWEAR, ["Tops"], [r"\bcardi"], [], None),
    ("c16", "tank top", "category", ["Knits", "Layering", "Blouses"], ["Tops"], [r"\btanks?\b|\bcami"], [], None),
    ("c17", "tunic", "category", TOPS, ["Tops"], [r"\btunic"], [], None),
    ("c18", "loungewear", "category", ["Lounge"], ["Intimate"], [], [], None),
    ("c19", "nightgown", "category", ["Sleep", "Chemises"], ["Intimate"], [r"\bnight ?gown|\bnightie|\bchemise|\bslip\b"], [], None),
    ("c20", "socks and tights", "category", ["Legwear"], [], [], [], None),
    ("c21", "vest", "category", ["Outerwear", "Jackets", "Knits"], [], [r"\bvests?\b"], [], None),
    ("c22", "jumpsuit", "category", ["Pants", "Dresses"], [], [r"\bjumpsuit|\bromper"], [], None),
    ("c23", "midi skirt", "category", ["Skirts"], ["Bottoms"], [r"\bmidi\b"], [], None),
    ("c24", "maxi dress", "category", ["Dresses"], [], [r"\bmaxi\b"], [], None),
    ("c25", "petite pants", "category", ["Pants"], ["Bottoms"], [], [], "General Petite"),
    ("c26", "petite dress", "category", ["Dresses"], [], [], [], "General Petite"),
    # attribute values (colour, material, pattern)
    ("a01", "black dress", "attribute", ["Dresses"], [], [r"\bblack\b"], [], None),
    ("a02", "white jeans", "attribute", ["Jeans"], ["Bottoms"], [r"\bwhite\b"], [], None),
    ("a03", "linen pants", "attribute", ["Pants"], ["Bottoms"], [r"\blinen\b"], [], None),
    ("a04", "silk blouse", "attribute", ["Blouses"], ["Tops"], [r"\bsilk"], [], None),
    ("a05", "cashmere sweater", "attribute", ["Sweaters"], ["Tops"], [r"\bcashmere\b"], [], None),
    ("a06", "denim jacket", "attribute", ["Jackets", "Outerwear"], ["Jackets"], [r"\bdenim\b|\bjean jacket"], [], None),
    ("a07", "floral skirt", "attribute", ["Skirts"], ["Bottoms"], [r"\bfloral|\bflowers?\b"], [], None),
    ("a08", "striped top", "attribute", TOPS, ["Tops"], [r"\bstripe"], [], None),
    ("a09", "red dress", "attribute", ["Dresses"], [], [r"\bred\b"], [], None),
    ("a10", "navy blue sweater", "attribute", ["Sweaters"], ["Tops"], [r"\bnavy\b"], [], None),
    ("a11", "lace top", "attribute", TOPS + ["Layering"], ["Tops"], [r"\blace\b|\blacy\b"], [], None),
    ("a12", "wool coat", "attribute", ["Outerwear", "Jackets"], ["Jackets"], [r"\bwool"], [], None),
    ("a13", "green dress", "attribute", ["Dresses"], [], [r"\bgreen\b|\bolive\b|\bemerald\b"], [], None),
    ("a14", "grey cardigan", "attribute", KNITWEAR, ["Tops"], [r"\bgr[ae]y\b"], [], None),
    ("a15", "leather jacket", "attribute", ["Jackets", "Outerwear"], ["Jackets"], [r"\bleather\b|\bsuede\b"], [], None),
    ("a16", "cotton shorts", "attribute", ["Shorts"], ["Bottoms"], [r"\bcotton\b"], [], None),
    ("a17", "pink blouse", "attribute", ["Blouses"], ["Tops"], [r"\bpink\b|\bblush\b"], [], None),
    ("a18", "velvet dress", "attribute", ["Dresses"], [], [r"\bvelvet"], [], None),
    ("a19", "embroidered top", "attribute", TOPS, ["Tops"], [r"\bembroider"], [], None),
    ("a20", "yellow skirt", "attribute", ["Skirts"], ["Bottoms"], [r"\byellow\b|\bmustard\b"], [], None),
    # review aspects
    ("s01", "soft sweater", "aspect", ["Sweaters", "Fine gauge", "Knits"], ["Tops"], [r"\bsoft"], [], None),
    ("s02", "true to size jeans", "aspect", ["Jeans"], ["Bottoms"], [r"true to size|\btts\b|fits? perfect"], [], None),
    ("s03", "comfortable pajamas", "aspect", SLEEP, ["Intimate"], [r"\bcomfort|\bcomfy|\bcozy"], [], None),
    ("s04", "flattering dress", "aspect", ["Dresses"], [], [r"\bflatter"], [], None),
    ("s05", "warm coat", "aspect", ["Outerwear", "Jackets"], ["Jackets"], [r"\bwarm"], [], None),
    ("s06", "stretchy jeans", "aspect", ["Jeans"], ["Bottoms"], [r"\bstretch"], [], None),
    ("s07", "sweater that is not itchy", "aspect", ["Sweaters", "Fine gauge"], ["Tops"], [], [r"\bitch|\bscratch"], None),
    ("s08", "leggings that are not see through", "aspect", ["Legwear", "Pants"], [], [], [r"see[ -]?through|\bsheer\b|transparent"], None),
    ("s09", "well made jacket", "aspect", ["Jackets", "Outerwear"], ["Jackets"], [r"well made|quality|well constructed"], [], None),
    ("s10", "swimsuit with good support", "aspect", ["Swim"], [], [r"\bsupport"], [], None),
    ("s11", "lightweight summer top", "aspect", TOPS, ["Tops"], [r"\blight ?weight|\bsummer\b|\bbreezy|\bairy"], [], None),
    ("s12", "cozy lounge pants", "aspect", ["Lounge"], ["Intimate"], [r"\bcozy|\bcomfy|\bsoft"], [], None),
    ("s13", "dress with pockets", "aspect", ["Dresses"], [], [r"\bpockets?\b"], [], None),
    ("s14", "slimming pants", "aspect", ["Pants", "Jeans"], ["Bottoms"], [r"\bslimming|\bflatter"], [], None),
    ("s15", "breathable shirt for hot weather", "aspect", TOPS, ["Tops"], [r"\bbreath|\bcool\b|\bhot\b|\bheat\b"], [], None),
    ("s16", "jeans that do not stretch out", "aspect", ["Jeans"], ["Bottoms"], [], [r"stretch(ed|es)? out|bag(gy|s) out|loses? (its )?shape"], None),
    ("s17", "washes well", "aspect", [], [], [r"wash(es|ed)? (well|great|beautifully|nicely)|held up .{0,20}wash"], [], None),
    ("s18", "runs small", "aspect", [], [], [r"runs? small|size up|sized up"], [], None),
    ("s19", "flowy skirt", "aspect", ["Skirts"], ["Bottoms"], [r"\bflow"], [], None),
    ("s20", "thick warm sweater", "aspect", ["Sweaters"], ["Tops"], [r"\bthick|\bwarm|\bheavy"], [], None),
    ("s21", "versatile dress", "aspect", ["Dresses"], [], [r"\bversatil|dress (it )?up or down"], [], None),
    ("s22", "cute shorts", "aspect", ["Shorts"], ["Bottoms"], [r"\bcute"], [], None),
    ("s23", "high quality blouse", "aspect", ["Blouses"], ["Tops"], [r"quality|well made"], [], None),
    ("s24", "pilling sweater", "aspect", ["Sweaters", "Fine gauge"], ["Tops"], [r"\bpill"], [], None),
    # misspellings
    ("m01", "dresss", "misspelling", ["Dresses"], [], [], [], None),
    ("m02", "jenas", "misspelling", ["Jeans"], ["Bottoms"], [], [], None),
    ("m03", "sweatr", "misspelling", ["Sweaters"], ["Tops"], [], [], None),
    ("m04", "cardigen", "misspelling", KNITWEAR, ["Tops"], [r"\bcardi"], [], None),
    ("m05", "blouze", "misspelling", ["Blouses"], ["Tops"], [], [], None),
    ("m06", "swimsiut", "misspelling", ["Swim"], [], [], [], None),
    ("m07", "leggins", "misspelling", ["Legwear", "Pants"], [], [r"\blegging"], [], None),
    ("m08", "jakcet", "misspelling", ["Jackets", "Outerwear"], ["Jackets"], [], [], None),
    ("m09", "sweter soft", "misspelling", ["Sweaters", "Fine gauge", "Knits"], ["Tops"], [r"\bsoft"], [], None),
    ("m10", "pajamma", "misspelling", SLEEP, ["Intimate"], [r"\bpajama|\bpj|\bpyjama"], [], None),
    ("m11", "skrit", "misspelling", ["Skirts"], ["Bottoms"], [], [], None),
    ("m12", "flatering dress", "misspelling", ["Dresses"], [], [r"\bflatter"], [], None),
    ("m13", "lingere", "misspelling", ["Intimates", "Sleep", "Chemises"], ["Intimate"], [r"\blingerie|\bbra\b|\blace\b"], [], None),
    ("m14", "comfy pnats", "misspelling", ["Pants", "Lounge"], [], [r"\bcomf|\bcozy"], [], None),
    # price phrases (the demo has no prices: read and set aside; intent is the rest)
    ("p01", "dress under $100", "price", ["Dresses"], [], [], [], None),
    ("p02", "jeans below 80 dollars", "price", ["Jeans"], ["Bottoms"], [], [], None),
    ("p03", "cheap swimsuit under $50", "price", ["Swim"], [], [], [], None),
    ("p04", "sweater between $50 and $100", "price", ["Sweaters"], ["Tops"], [], [], None),
    ("p05", "jacket over $150", "price", ["Jackets", "Outerwear"], ["Jackets"], [], [], None),
    ("p06", "soft pajamas under $60", "price", SLEEP, ["Intimate"], [r"\bsoft"], [], None),
    ("p07", "skirt $30-$60", "price", ["Skirts"], ["Bottoms"], [], [], None),
    ("p08", "black pants less than 90", "price", ["Pants"], ["Bottoms"], [r"\bblack\b"], [], None),
    # long descriptions
    ("l01", "a flowy maxi dress i can wear to a summer wedding", "long", ["Dresses"], [], [r"\bwedding|\bmaxi\b|\bflow"], [], None),
    ("l02", "warm cozy sweater for cold winter days", "long", ["Sweaters"], ["Tops"], [r"\bwarm|\bcozy|\bwinter"], [], None),
    ("l03", "jeans that fit a curvy figure without gaping at the waist", "long", ["Jeans"], ["Bottoms"], [r"\bcurv|\bgap|\bwaist"], [], None),
    ("l04", "comfortable pants i can wear to work all day", "long", ["Pants"], ["Bottoms"], [r"\bwork\b|\boffice\b|\ball day"], [], None),
    ("l05", "swimsuit that stays in place when swimming laps", "long", ["Swim"], [], [r"\bstays?\b|\bswim(ming)?\b|\bsupport"], [], None),
    ("l06", "a light jacket for spring evenings", "long", ["Jackets", "Outerwear"], ["Jackets"], [r"\bspring\b|\blight ?weight|\blight\b"], [], None),
    ("l07", "blouse that looks professional for the office", "long", ["Blouses"], ["Tops"], [r"\bwork\b|\boffice\b|\bprofessional"], [], None),
    ("l08", "something soft to sleep in", "long", SLEEP, ["Intimate"], [r"\bsoft"], [], None),
    ("l09", "dress for a cocktail party that is not too short", "long", ["Dresses"], [], [r"\bparty|\bcocktail|\bevent|\bwedding"], [], None),
    ("l10", "shorts long enough to wear hiking", "long", ["Shorts"], ["Bottoms"], [r"\bhik|\blength|\blong\b"], [], None),
    ("l11", "a top to layer under a cardigan", "long", ["Layering", "Knits"], ["Tops"], [r"\blayer"], [], None),
    ("l12", "skirt that works for both office and weekend", "long", ["Skirts"], ["Bottoms"], [r"\bwork\b|\boffice\b|\bweekend|\bversatil"], [], None),
    ("l13", "beach cover up for vacation", "long", ["Swim", "Dresses"], [], [r"\bcover[ -]?up|\bbeach|\bvacation"], [], None),
    ("l14", "sweater dress to wear with boots", "long", ["Dresses"], [], [r"\bsweater\b|\bboots?\b"], [], None),
    ("l15", "pajama set that keeps me warm at night", "long", SLEEP, ["Intimate"], [r"\bwarm"], [], None),
]


def split_of(qid):
    return "dev" if hashlib.blake2b(qid.encode(), digest_size=4).digest()[0] % 3 == 0 else "test"


def products():
    by = collections.defaultdict(lambda: {"classes": set(), "depts": set(), "divisions": set(), "texts": []})
    with open(CSV, newline="") as f:
        for r in csv.DictReader(f):
            p = by[r["Clothing ID"]]
            p["classes"].add(r["Class Name"])
            p["depts"].add(r["Department Name"])
            p["divisions"].add(r["Division Name"])
            p["texts"].append(f"{r['Title']} {r['Review Text']}".lower())
    return by


def grade(p, classes, depts, terms, absent, division):
    cls = bool(p["classes"] & set(classes)) if classes else True
    if division and cls:
        cls_full = division in p["divisions"]
    else:
        cls_full = cls
    dept = bool(p["depts"] & set(depts)) if depts else cls
    n = len(p["texts"])
    if absent:
        bad = sum(1 for t in p["texts"] if any(re.search(a, t) for a in absent))
        clean = n >= 5 and bad / n < 0.03
        if cls_full and clean:
            return 2
        return 1 if cls else 0
    if not terms:
        if cls_full:
            return 2
        if cls or dept:
            return 1
        return 0
    hits = sum(1 for t in p["texts"] if any(re.search(x, t) for x in terms))
    strong = hits >= 3 and hits / n >= 0.10
    weak = hits >= 1
    if not classes:
        return 2 if strong else (1 if weak else 0)
    if cls_full and strong:
        return 3
    if cls_full and weak:
        return 2
    if cls_full or (dept and strong):
        return 1
    return 0


def main():
    ps = products()
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "queries.tsv"), "w") as f:
        f.write("qid\tquery\tkind\tsplit\n")
        for q in Q:
            f.write(f"{q[0]}\t{q[1]}\t{q[2]}\t{split_of(q[0])}\n")
    n = 0
    with open(os.path.join(OUT, "queries.qrels.tsv"), "w") as f:
        f.write("qid\tproduct\tgrade\n")
        for (qid, _q, _k, classes, depts, terms, absent, division) in Q:
            for pid in sorted(ps, key=lambda x: int(x)):
                g = grade(ps[pid], classes, depts, terms, absent, division)
                if g > 0:
                    f.write(f"{qid}\t{pid}\t{g}\n")
                    n += 1
    kinds = collections.Counter(q[2] for q in Q)
    splits = collections.Counter(split_of(q[0]) for q in Q)
    print(f"{len(Q)} queries {dict(kinds)} {dict(splits)}; {n} judgements > 0 over {len(ps)} products", file=sys.stderr)


if __name__ == "__main__":
    main()
