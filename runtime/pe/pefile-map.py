#!/usr/bin/python3
"""Reference mapping for map-image.test.ts: python3-pefile's memory-mapped image of FILE
relocated to BASE, written to OUT. Usage: pefile-map.py FILE BASE OUT"""
import sys

import pefile

pe = pefile.PE(sys.argv[1])
base = int(sys.argv[2], 0)
if base != pe.OPTIONAL_HEADER.ImageBase:
    pe.relocate_image(base)
with open(sys.argv[3], 'wb') as f:
    f.write(pe.get_memory_mapped_image())
