#!/usr/bin/python3
"""Second reference dump for the differential test (lief-diff.test.ts): prints what LIEF
(PyPI `lief`, installed by .ci/install-pip.sh into a cache directory on PYTHONPATH) reads
from each PE file given on the command line, in the shape pefile-dump.py prints. One JSON
object per file, one per line."""
import json
import sys

import lief

lief.logging.disable()
CONFIG = lief.PE.ParserConfig()
CONFIG.parse_exceptions = True  # off by default
CONFIG.parse_rsrc = False
CONFIG.parse_signature = False


def text(b):
    if b is None:
        return None
    if isinstance(b, str):
        return b
    try:
        return bytes(b).decode('utf-8')
    except UnicodeDecodeError:
        return bytes(b).decode('latin-1')


def dump(path):
    pe = lief.PE.parse(path, CONFIG)
    if pe is None:
        raise ValueError('LIEF could not parse the file')
    oh, fh = pe.optional_header, pe.header
    base = oh.imagebase
    is64 = int(oh.magic) == 0x20b
    out = {
        'machine': int(fh.machine),
        'format': 'PE32+' if is64 else 'PE32',
        'imageBase': hex(base),
        'timeDateStamp': fh.time_date_stamps,
        'sizeOfImage': oh.sizeof_image,
        'checksum': oh.checksum,
        'entryPoint': oh.addressof_entrypoint,
        'sections': [{
            'name': text(s.fullname).split('\0', 1)[0],
            'rva': s.virtual_address, 'virtualSize': s.virtual_size,
            'rawOffset': s.pointerto_raw_data, 'rawSize': s.sizeof_raw_data,
            'characteristics': s.characteristics,
        } for s in pe.sections],
        'exports': [],
        'imports': [],
        'relocBlocks': 0,
        'relocEntries': 0,
        'exceptionEntries': 0,
        'codeView': None,
    }
    exp = pe.get_export()
    if exp is not None:
        for e in exp.entries:
            fwd = None
            if e.is_forwarded:
                fi = e.forward_information
                fwd = f'{fi.library}.{fi.function}'
            out['exports'].append([e.name or None, e.ordinal, e.address, fwd])
    for d in pe.imports:
        for i in d.entries:
            out['imports'].append([d.name, False, None if i.is_ordinal else i.name, i.ordinal if i.is_ordinal else None, i.iat_address])
    for d in pe.delay_imports:
        for i in d.entries:
            # A DelayImportEntry's value is the RVA of its IAT slot.
            out['imports'].append([d.name, True, None if i.is_ordinal else i.name, i.ordinal if i.is_ordinal else None, i.value])
    for b in pe.relocations:
        out['relocBlocks'] += 1
        out['relocEntries'] += sum(1 for e in b.entries if int(e.type) != 0)
    out['exceptions'] = []
    for f in pe.exceptions:
        row = [f.rva_start, f.rva_end, f.unwind_rva]
        u = f.unwind_info
        if u is not None:
            handler = u.handler if u.handler is not None and (u.flags & 3) and not (u.flags & 4) else None
            row += [u.version, u.flags, u.sizeof_prologue, u.count_opcodes, u.frame_reg, u.frame_reg_offset, handler]
        out['exceptions'].append(row)
    out['exceptionEntries'] = len(out['exceptions'])
    lc = pe.load_configuration
    out['loadConfig'] = None
    if lc is not None:
        out['loadConfig'] = {
            'size': lc.size,
            'securityCookie': lc.security_cookie,
            'guardCfFunctionTable': lc.guard_cf_function_table,
            'guardCfFunctionCount': lc.guard_cf_function_count,
            'guardFlags': lc.guard_flags,
            'hotPatchTableOffset': lc.hotpatch_table_offset,
            'guardCfFunctions': [g.rva for g in lc.guard_cf_functions],
        }
    tls = pe.tls
    out['tls'] = None
    if tls is not None:
        start, end = tls.addressof_raw_data
        out['tls'] = {'addressOfCallBacks': tls.addressof_callbacks, 'startAddressOfRawData': start,
                      'endAddressOfRawData': end, 'callbacks': list(tls.callbacks)}
    cv = pe.codeview_pdb
    if cv is not None:
        g = cv.guid
        out['codeView'] = {'guid': g.upper() if isinstance(g, str) else str(g).upper(), 'age': cv.age, 'path': cv.filename}
    return out


for p in sys.argv[1:]:
    try:
        print(json.dumps({'file': p, 'pe': dump(p)}))
    except Exception as e:  # noqa: BLE001 - reported to the test as data
        print(json.dumps({'file': p, 'error': f'{type(e).__name__}: {e}'}))
    sys.stdout.flush()
