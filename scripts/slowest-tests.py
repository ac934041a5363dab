#!/usr/bin/env python3
"""Prints the slowest tests of the .trx files under a directory: slowest-tests.py DIR [N]."""
import glob
import sys
import xml.etree.ElementTree as ET


def seconds(duration):
    h, m, s = duration.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
rows = []
for path in glob.glob(f"{sys.argv[1]}/**/*.trx", recursive=True):
    for result in ET.parse(path).getroot().iterfind(".//t:UnitTestResult", ns):
        if result.get("duration"):
            rows.append((seconds(result.get("duration")), result.get("outcome"), result.get("testName")))

count = int(sys.argv[2]) if len(sys.argv) > 2 else 12
total = sum(r[0] for r in rows)
print(f"slowest {count} of {len(rows)} tests ({total:.0f} s in all):")
for duration, outcome, name in sorted(rows, reverse=True)[:count]:
    print(f"  {duration:7.1f} s  {outcome:<7} {name[:150]}")
