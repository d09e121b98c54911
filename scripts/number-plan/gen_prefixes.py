#!/usr/bin/env python3
"""Generate e164-prefixes.tsv.

Inputs
  * libphonenumber resources/PhoneNumberMetadata.xml (Apache-2.0), path given on the
    command line.  Used for: assigned country calling codes and the territories that
    use them, English short names (CLDR names in the XML comments), leadingDigits that
    split shared codes, and the tollFree / premiumRate / sharedCost patterns of each
    main territory (expanded to digit prefixes).
  * The facts in ITU_LIST / GMSS / extra rows below, transcribed from the sources named
    in docs/number-plan.md (ITU E.164 assigned-code list as reproduced in Wireshark's
    packet-e164.c; Wikipedia "Global Mobile Satellite System" and "Telephone numbers in
    Kazakhstan").

Usage: gen_prefixes.py PhoneNumberMetadata.xml > e164-prefixes.tsv
Diagnostics (skipped expansions, conflicts, cross-check differences) go to stderr.
"""
import re
import sys
import xml.etree.ElementTree as ET
from itertools import product

ALL = (1 << 10) - 1
MAX_SEQ = 200_000          # bound on regex expansion
MAX_PREFIXES = 300         # per (territory, number type) after compression


def log(*a):
    print(*a, file=sys.stderr)


# ---------------------------------------------------------------------------
# A tiny expander for the regex subset libphonenumber uses in number patterns:
# literals, \d, [..] classes with ranges, (?:..) groups, |, and ?, {n}, {n,m}.
# A pattern becomes a finite list of sequences of digit sets (10-bit masks).
# ---------------------------------------------------------------------------
class Expander:
    def __init__(self, pattern):
        self.s = re.sub(r"\s+", "", pattern)
        self.i = 0

    def parse(self):
        out = self.alt()
        if self.i != len(self.s):
            raise ValueError(f"unparsed tail {self.s[self.i:]!r}")
        return out

    def peek(self):
        return self.s[self.i] if self.i < len(self.s) else None

    def alt(self):
        seqs = self.seq()
        while self.peek() == "|":
            self.i += 1
            seqs = seqs + self.seq()
        return seqs

    def seq(self):
        acc = [()]
        while self.peek() not in (None, "|", ")"):
            atom = self.atom()
            atom = self.quant(atom)
            acc = [a + b for a in acc for b in atom]
            if len(acc) > MAX_SEQ:
                raise OverflowError("expansion too large")
        return acc

    def atom(self):
        c = self.peek()
        if c == "(":
            self.i += 1
            if self.s.startswith("?:", self.i):
                self.i += 2
            inner = self.alt()
            if self.peek() != ")":
                raise ValueError("missing )")
            self.i += 1
            return inner
        if c == "[":
            j = self.s.index("]", self.i)
            body = self.s[self.i + 1:j]
            self.i = j + 1
            if body.startswith("^"):
                raise ValueError("negated class")
            mask, k = 0, 0
            while k < len(body):
                if k + 2 < len(body) and body[k + 1] == "-":
                    for d in range(int(body[k]), int(body[k + 2]) + 1):
                        mask |= 1 << d
                    k += 3
                elif body.startswith("\\d", k):
                    mask |= ALL
                    k += 2
                else:
                    mask |= 1 << int(body[k])
                    k += 1
            return [(mask,)]
        if c == "\\":
            if self.s[self.i + 1] != "d":
                raise ValueError("escape " + self.s[self.i:self.i + 2])
            self.i += 2
            return [(ALL,)]
        if c is not None and c.isdigit():
            self.i += 1
            return [(1 << int(c),)]
        raise ValueError(f"unexpected {c!r} at {self.i}")

    def quant(self, atom):
        c = self.peek()
        if c == "?":
            self.i += 1
            return [()] + atom
        if c == "{":
            j = self.s.index("}", self.i)
            spec = self.s[self.i + 1:j]
            self.i = j + 1
            if "," in spec:
                lo, hi = spec.split(",")
                lo, hi = int(lo), int(hi)
            else:
                lo = hi = int(spec)
            out = []
            for k in range(lo, hi + 1):
                reps = [()]
                for _ in range(k):
                    reps = [a + b for a in reps for b in atom]
                    if len(reps) > MAX_SEQ:
                        raise OverflowError("expansion too large")
                out += reps
            return out
        if c in ("*", "+"):
            raise ValueError("unbounded quantifier")
        return atom


def digits_of(mask):
    return [str(d) for d in range(10) if mask >> d & 1]


def prefixes_of(pattern, limit=5000):
    """Digit prefixes P such that the pattern's strings are exactly P + (any digits)."""
    seqs = Expander(pattern).parse()
    out = set()
    for seq in seqs:
        seq = list(seq)
        while seq and seq[-1] == ALL:
            seq.pop()
        if not seq:
            raise ValueError("pattern matches everything")
        for combo in product(*(digits_of(m) for m in seq)):
            out.add("".join(combo))
            if len(out) > limit:
                raise OverflowError("too many prefixes")
    return compress(out)


def compress(prefixes):
    s = set(prefixes)
    # drop prefixes covered by a shorter one
    s = {p for p in s if not any(p[:k] in s for k in range(1, len(p)))}
    changed = True
    while changed:
        changed = False
        parents = {}
        for p in s:
            if len(p) > 1:
                parents.setdefault(p[:-1], set()).add(p[-1])
        for par, kids in parents.items():
            if len(kids) == 10:
                s -= {par + k for k in kids}
                s.add(par)
                changed = True
        s = {p for p in s if not any(p[:k] in s for k in range(1, len(p)))}
    return sorted(s)


def overlaps(p, others):
    """True if prefix p and a prefix of another territory sharing the code overlap in either
    direction.  Such numbers are ambiguous or (libphonenumber checks the main territory
    first) resolve to the other territory, so the split row is not emitted."""
    return any(p.startswith(q) or q.startswith(p) for q in others)


# ---------------------------------------------------------------------------
# ITU list facts (see SOURCES.md).  Codes the ITU list (OB 991, amendments to
# OB 1057, 2014, as reproduced in Wireshark epan/dissectors/packet-e164.c) shows as
# spare or reserved, and the non-geographic / special codes.
# ---------------------------------------------------------------------------
ITU_SPARE = (
    [210, 214, 215, 217, 219, 259] + list(range(280, 290)) + list(range(292, 297))
    + [383, 384, 422] + list(range(424, 430)) + [671, 684] + list(range(693, 700))
    + list(range(801, 808)) + [809] + list(range(830, 840)) + [851, 854, 857, 858, 859]
    + [871, 872, 873, 874, 884, 885, 887, 889] + list(range(890, 900)) + [978, 990, 997]
)
ITU_RESERVED = {
    875: "Reserved - Maritime Mobile Service Applications",
    876: "Reserved - Maritime Mobile Service Applications",
    877: "Reserved - Maritime Mobile Service Applications",
    879: "Reserved for national non-commercial purposes",
    969: "Reserved - reservation currently under investigation",
    970: "Reserved",
    999: "Reserved for future global service",
}
# Non-geographic / special codes: code -> (pseudo country, name, category, note)
NON_GEO = {
    "800": ("XF", "International Freephone Service (UIFN)", "freephone",
            "ITU E.169.1; shared code"),
    "808": ("XC", "International Shared Cost Service (ISCS)", "shared-cost",
            "ITU E.169.3; shared code"),
    "870": ("XS", "Inmarsat SNAC", "satellite",
            "Inmarsat single network access code; 871-874 (old ocean-region codes) are spare"),
    "878": ("XU", "Universal Personal Telecommunication Service (UPT)", "international-network",
            "shared code; +878 10 assigned to VISIONng"),
    "881": ("XS", "Global Mobile Satellite System (GMSS)", "satellite",
            "shared code; 8810-8815 spare (formerly ICO, Ellipso) and fall back to this row"),
    "882": ("XN", "International Networks", "international-network",
            "shared code, 2-digit identification codes; assignments change, see ITU list"),
    "883": ("XN", "International Networks", "international-network",
            "shared code, 3/4-digit identification codes (mostly IoT/M2M and VoIP)"),
    "888": ("XD", "Telecommunications for Disaster Relief (TDR), UN OCHA", "international-network",
            "non-geographic; categorised international-network for cost purposes"),
    "979": ("XP", "International Premium Rate Service (IPRS)", "premium",
            "ITU E.169.2; shared code"),
    "991": ("XT", "Trial of a proposed new international telecommunication public correspondence service (ITPCS)",
            "international-network", "shared trial code; no public assignments known to this table"),
    "388": ("XG", "Group of countries, shared code", "international-network",
            "ITU E.164.3 shared code for groups of countries (ETNS used +388 3)"),
}
# Sub-ranges with a category or operator worth naming.
EXTRA_ROWS = [
    ("8816", "XS", "Iridium", "satellite", "GMSS identification codes 6 and 7"),
    ("8817", "XS", "Iridium", "satellite", "GMSS identification codes 6 and 7"),
    ("8818", "XS", "Globalstar", "satellite", "GMSS identification codes 8 and 9"),
    ("8819", "XS", "Globalstar", "satellite", "GMSS identification codes 8 and 9"),
    ("88213", "XS", "Telespazio EMS Regional Mobile Satellite System", "satellite",
     "+882 13; ITU list (2014) and libphonenumber"),
    ("88216", "XS", "Thuraya RMSS Network", "satellite",
     "+882 16; ITU list (2014), Wikipedia GMSS article and libphonenumber"),
    ("379", "VA", "Vatican City", "geographic",
     "ITU-assigned to Vatican City State but not in use; Vatican numbers are +39 06 698"),
    ("76", "KZ", "Kazakhstan", "geographic",
     "+7 6xx zone codes assigned to Kazakhstan by the 2006 RU-KZ agreement (Wikipedia); not in libphonenumber"),
]


def main():
    xml_path = sys.argv[1]
    raw = open(xml_path, encoding="utf-8").read()
    names = dict((m.group(2), m.group(1)) for m in
                 re.finditer(r"<!-- (.+?) \(([A-Z]{2})\) -->", raw))
    root = ET.fromstring(raw)
    terr = root.find("territories").findall("territory")

    def pat(t, kind):
        e = t.find(kind)
        if e is None:
            return None
        p = e.find("nationalNumberPattern")
        return re.sub(r"\s+", "", p.text) if p is not None else None

    by_cc = {}
    for t in terr:
        by_cc.setdefault(t.get("countryCode"), []).append(t)

    rows = {}   # prefix -> (country, name, category, note)
    prov = {}   # prefix -> short provenance tag for stderr

    def add(prefix, country, name, category, note, why):
        if prefix in rows and rows[prefix] != (country, name, category, note):
            log(f"conflict at {prefix}: keeping {rows[prefix][:3]} ({prov[prefix]}), dropping {(country, name, category)} ({why})")
            return
        rows[prefix] = (country, name, category, note)
        prov[prefix] = why

    # --- 1. every country calling code in libphonenumber -------------------
    for cc, ts in by_cc.items():
        if ts[0].get("id") == "001":
            c, n, cat, note = NON_GEO[cc]
            add(cc, c, n, cat, note, "ITU non-geo")
            continue
        main_t = next((t for t in ts if t.get("mainCountryForCode") == "true"), ts[0])
        if len(ts) == 1:
            main_t = ts[0]
        iso = main_t.get("id")
        others = [t.get("id") for t in ts if t is not main_t]
        note = ""
        if cc == "1":
            note = "NANP; US unless a more specific area-code row matches"
        elif others:
            note = "shared with " + ", ".join(sorted(others)) + "; rows below split where sourced"
        add(cc, iso, names[iso], "geographic", note, "libphonenumber")

    # --- 2. ITU codes not in libphonenumber -----------------------------------
    for cc in ("388", "991"):
        c, n, cat, note = NON_GEO[cc]
        add(cc, c, n, cat, note, "ITU non-geo")
    for code in ITU_SPARE:
        k = str(code)
        if k in rows:
            log(f"ITU 2014 spare code {k} is assigned in libphonenumber to {rows[k][0]}")
            continue
        note = "ITU: spare code"
        if 280 <= code <= 289:
            note = "ITU: spare, reserved for country code expansion"
        if code == 997:
            note = "ITU: spare in 2014 list; reserved for Kazakhstan in 2021 but not implemented (Wikipedia)"
        add(k, "ZZ", "Spare code", "reserved", note, "ITU spare")
    for code, text in ITU_RESERVED.items():
        k = str(code)
        if k in rows:
            log(f"ITU reserved code {k} is assigned in libphonenumber to {rows[k][0]}")
            if k == "970":
                c, n, cat, _ = rows[k]
                rows[k] = (c, n, cat, "ITU list shows 970 as reserved (for the Palestinian Authority); in use for Palestine")
            continue
        add(k, "ZZ", text, "reserved", "ITU: reserved", "ITU reserved")

    # --- 3. shared-code splits ------------------------------------------------
    for cc, ts in by_cc.items():
        if len(ts) < 2:
            continue
        main_t = next(t for t in ts if t.get("mainCountryForCode") == "true")
        nanp = cc == "1"
        # reference sets for conflict checks: each territory's fixed+mobile prefixes
        ref = {}
        for t in ts:
            ps = set()
            for kind in ("fixedLine", "mobile"):
                p = pat(t, kind)
                if p:
                    try:
                        ps |= set(prefixes_of(p, limit=20000))
                    except (OverflowError, ValueError) as e:
                        log(f"{cc} {t.get('id')} {kind}: not expanded ({e})")
            if nanp:
                ps = {p[:3] for p in ps}
            ref[t.get("id")] = ps
        for t in ts:
            iso = t.get("id")
            if t is main_t:
                continue
            ld = t.get("leadingDigits")
            if ld:
                cand = prefixes_of(ld)
                how = "leadingDigits"
            else:
                cand = sorted(ref[iso])
                how = "fixed+mobile patterns"
            if nanp:
                cand = sorted({p[:3] for p in cand if len(p) >= 3})
                # NANP-wide service codes (8YY toll-free, 900) are not territory-specific
                cand = [p for p in cand if not re.fullmatch(r"8(00|33|44|55|66|77|88)|900", p)]
            kept = []
            for p in cand:
                if not ld:
                    clash = [o for o, ps in ref.items() if o != iso and overlaps(p, ps)]
                    if clash:
                        log(f"{cc} {iso}: dropping {p}, overlaps {clash}")
                        continue
                kept.append(p)
            if not ld and len(kept) > MAX_PREFIXES:
                log(f"{cc} {iso}: {len(kept)} prefixes, skipped")
                continue
            for p in kept:
                note = f"libphonenumber {how}"
                if nanp:
                    note = "NANP area code"
                if iso == main_t.get("id"):
                    continue
                add(cc + p, iso, names[iso], "geographic", note, "split")

    # --- 4. national toll-free / premium / shared-cost ranges -------------------
    cat_of = {"premiumRate": "premium", "sharedCost": "shared-cost", "tollFree": "freephone"}
    for cc, ts in by_cc.items():
        if ts[0].get("id") == "001":
            continue
        main_t = next((t for t in ts if t.get("mainCountryForCode") == "true"), ts[0])
        iso = main_t.get("id")
        for kind, cat in cat_of.items():
            p = pat(main_t, kind)
            if not p:
                continue
            try:
                pre = prefixes_of(p)
            except (OverflowError, ValueError) as e:
                log(f"{cc} {iso} {kind}: not expanded ({e})")
                continue
            if cc == "1":
                pre = sorted({x[:3] for x in pre})
            if len(pre) > MAX_PREFIXES:
                log(f"{cc} {iso} {kind}: {len(pre)} prefixes, skipped")
                continue
            for x in pre:
                note = f"libphonenumber {kind} pattern"
                if cc == "1":
                    note = "NANP-wide service code (may terminate in any NANP country)"
                add(cc + x, iso, names[iso], cat, note, kind)

    # --- 5. hand-sourced extras -------------------------------------------------
    for prefix, c, n, cat, note in EXTRA_ROWS:
        add(prefix, c, n, cat, note, "extra")

    # --- checks -----------------------------------------------------------------
    for p in rows:
        assert re.fullmatch(r"[1-9][0-9]{0,14}", p), p
    # every 3-digit block under a 2-digit block that is not itself a code is complete
    for first in range(1, 10):
        for second in range(10):
            two = f"{first}{second}"
            if str(first) in ("1", "7") or two in rows:
                continue
            missing = [two + str(d) for d in range(10) if two + str(d) not in rows]
            if missing:
                log(f"block {two}x incomplete: missing {missing}")

    out = sys.stdout
    out.write("# e164-prefixes.tsv - generated by scripts/number-plan/gen_prefixes.py; see docs/number-plan.md\n")
    out.write("# Columns: prefix (E.164 digits, no +), country (ISO 3166-1 alpha-2 or pseudo code),\n")
    out.write("#          name, category, note.  Longest prefix wins; later rows replace earlier ones.\n")
    out.write("# Pseudo country codes (ISO 3166-1 user-assigned range): XS satellite (870, 881, 882 13/16),\n")
    out.write("#   XN international networks (882, 883), XU UPT (878), XD disaster relief (888),\n")
    out.write("#   XF international freephone (800), XC international shared cost (808),\n")
    out.write("#   XP international premium rate (979), XT trial (991), XG group of countries (388),\n")
    out.write("#   ZZ spare / reserved codes.  XK (Kosovo) follows CLDR/libphonenumber.\n")
    out.write("# Category 'geographic' on a country-code row means 'assigned to that country';\n")
    out.write("#   it covers fixed and mobile numbers alike.\n")
    out.write("prefix\tcountry\tname\tcategory\tnote\n")
    for p in sorted(rows, key=lambda s: (s, len(s))):
        c, n, cat, note = rows[p]
        for f in (c, n, cat, note):
            assert "\t" not in f and "\n" not in f
        out.write(f"{p}\t{c}\t{n}\t{cat}\t{note}\n")
    from collections import Counter
    log("rows:", len(rows), dict(Counter(v[2] for v in rows.values())))


if __name__ == "__main__":
    main()
