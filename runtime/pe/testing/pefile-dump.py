#!/usr/bin/python3
"""Reference dump for the differential test (pefile-diff.test.ts): prints, as JSON, what
python3-pefile reads from each PE file given on the command line. Run with Debian's
/usr/bin/python3 (python3-pefile). One JSON object per file, one per line."""
import json
import sys

import pefile

D = pefile.DIRECTORY_ENTRY


def text(b):
    if b is None:
        return None
    if isinstance(b, str):
        return b
    try:
        return b.decode('utf-8')
    except UnicodeDecodeError:
        return b.decode('latin-1')


def dump(path):
    pe = pefile.PE(path, fast_load=True)
    pe.parse_data_directories(directories=[
        D['IMAGE_DIRECTORY_ENTRY_EXPORT'], D['IMAGE_DIRECTORY_ENTRY_IMPORT'],
        D['IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT'], D['IMAGE_DIRECTORY_ENTRY_BASERELOC'],
        D['IMAGE_DIRECTORY_ENTRY_EXCEPTION'], D['IMAGE_DIRECTORY_ENTRY_DEBUG'],
        D['IMAGE_DIRECTORY_ENTRY_LOAD_CONFIG'], D['IMAGE_DIRECTORY_ENTRY_TLS'],
    ])
    base = pe.OPTIONAL_HEADER.ImageBase
    out = {
        'machine': pe.FILE_HEADER.Machine,
        'format': 'PE32+' if pe.OPTIONAL_HEADER.Magic == 0x20b else 'PE32',
        'imageBase': hex(base),
        'timeDateStamp': pe.FILE_HEADER.TimeDateStamp,
        'sizeOfImage': pe.OPTIONAL_HEADER.SizeOfImage,
        'checksum': pe.OPTIONAL_HEADER.CheckSum,
        'entryPoint': pe.OPTIONAL_HEADER.AddressOfEntryPoint,
        'sections': [{
            'name': text(s.Name.rstrip(b'\0')),
            'rva': s.VirtualAddress, 'virtualSize': s.Misc_VirtualSize,
            'rawOffset': s.PointerToRawData, 'rawSize': s.SizeOfRawData,
            'characteristics': s.Characteristics,
        } for s in pe.sections],
        'exports': [],
        'imports': [],
        'relocBlocks': 0,
        'relocEntries': 0,
        'exceptionEntries': 0,
        'codeView': None,
    }
    if hasattr(pe, 'DIRECTORY_ENTRY_EXPORT'):
        for e in pe.DIRECTORY_ENTRY_EXPORT.symbols:
            out['exports'].append([text(e.name), e.ordinal, e.address, text(e.forwarder)])
    for attr, delayed in (('DIRECTORY_ENTRY_IMPORT', False), ('DIRECTORY_ENTRY_DELAY_IMPORT', True)):
        for d in getattr(pe, attr, []):
            for i in d.imports:
                # pefile's address is the IAT slot's VA for the preferred ImageBase.
                out['imports'].append([text(d.dll), delayed, text(i.name) if not i.import_by_ordinal else None,
                                       i.ordinal if i.import_by_ordinal else None, i.address - base])
    for b in getattr(pe, 'DIRECTORY_ENTRY_BASERELOC', []):
        out['relocBlocks'] += 1
        out['relocEntries'] += sum(1 for e in b.entries if e.type != 0)
    out['exceptionEntries'] = len(getattr(pe, 'DIRECTORY_ENTRY_EXCEPTION', []))
    # Per entry: Begin, End, UnwindData, then the UNWIND_INFO header and handler when
    # pefile decoded one (it does not for odd UnwindData values).
    out['exceptions'] = []
    for e in getattr(pe, 'DIRECTORY_ENTRY_EXCEPTION', []):
        st, ui = e.struct, e.unwindinfo
        row = [st.BeginAddress, st.EndAddress, st.UnwindData]
        if ui is not None:
            handler = getattr(ui, 'ExceptionHandler', None) if (ui.Flags & 3) and not (ui.Flags & 4) else None
            row += [ui.Version, ui.Flags, ui.SizeOfProlog, ui.CountOfCodes, ui.FrameRegister, ui.FrameOffset, handler]
        out['exceptions'].append(row)
    lc = getattr(pe, 'DIRECTORY_ENTRY_LOAD_CONFIG', None)
    out['loadConfig'] = None
    if lc is not None:
        st = lc.struct
        flags = getattr(st, 'GuardFlags', None)
        table, count = getattr(st, 'GuardCFFunctionTable', None), getattr(st, 'GuardCFFunctionCount', None)
        funcs = []
        if table and count:
            stride = 4 + (((flags or 0) & 0xF0000000) >> 28)
            funcs = [pe.get_dword_at_rva(table - base + i * stride) for i in range(count)]
        out['loadConfig'] = {
            'size': st.Size,
            'securityCookie': getattr(st, 'SecurityCookie', None),
            'guardCfFunctionTable': table, 'guardCfFunctionCount': count, 'guardFlags': flags,
            'hotPatchTableOffset': getattr(st, 'HotPatchTableOffset', None),
            'guardCfFunctions': funcs,
        }
    tls = getattr(pe, 'DIRECTORY_ENTRY_TLS', None)
    out['tls'] = None
    if tls is not None:
        st = tls.struct
        callbacks = []
        if st.AddressOfCallBacks:
            step = 8 if out['format'] == 'PE32+' else 4
            read = pe.get_qword_at_rva if step == 8 else pe.get_dword_at_rva
            while len(callbacks) < 4096:
                v = read(st.AddressOfCallBacks - base + step * len(callbacks))
                if not v:
                    break
                callbacks.append(v)
        out['tls'] = {'addressOfCallBacks': st.AddressOfCallBacks, 'startAddressOfRawData': st.StartAddressOfRawData,
                      'endAddressOfRawData': st.EndAddressOfRawData, 'callbacks': callbacks}
    for dbg in getattr(pe, 'DIRECTORY_ENTRY_DEBUG', []):
        cv = dbg.entry
        if dbg.struct.Type == 2 and cv is not None and getattr(cv, 'CvSignature', b'') == b'RSDS':
            guid = '%08X-%04X-%04X-%02X%02X-%s' % (
                cv.Signature_Data1, cv.Signature_Data2, cv.Signature_Data3,
                cv.Signature_Data4, cv.Signature_Data5, bytes(cv.Signature_Data6).hex().upper())
            out['codeView'] = {'guid': guid, 'age': cv.Age, 'path': text(cv.PdbFileName.rstrip(b'\0'))}
            break
    return out


for p in sys.argv[1:]:
    try:
        print(json.dumps({'file': p, 'pe': dump(p)}))
    except Exception as e:  # noqa: BLE001 - reported to the test as data
        print(json.dumps({'file': p, 'error': str(e)}))
    sys.stdout.flush()
