/**
 * What an import is, for diffing and re-targeting: the symbol and the DLL it comes from,
 * with a version number in the DLL's file name left out. A release that moves from
 * `libvips-cpp-8.17.2.dll` to `libvips-cpp-8.17.3.dll` imports the same functions (sharp
 * 0.34.4 -> 0.34.5: 40 functions whose only difference was that name); in a running process
 * the old DLL is the one loaded, so new code calls the old DLL's export of the same name.
 */

/** `dll` (lower case) without a trailing `-1.2.3` / `_1_2` / `.1.2` version before `.dll`. */
export function dllIdentity(dll: string): string {
  return dll.replace(/[-_.]\d+(?:[._]\d+)*(?=\.dll$)/, '');
}

/** The key an import slot is compared and re-targeted by: `dll!symbol`, version-free. */
export function importKey(imp: { readonly dll: string; readonly symbol: string }): string {
  return `${dllIdentity(imp.dll)}!${imp.symbol}`;
}
