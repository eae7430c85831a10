#include <windows.h>
#include <stdio.h>
/* dump-image.exe A.dll B.dll OUT (map-image-wine.test.ts): loads A then B (same preferred base, so B is rebased) and writes
   for each: u64 base, u32 size, then the SizeOfImage bytes of the mapped image. */
static int dump(FILE *f, HMODULE h) {
  unsigned char *b = (unsigned char *)h;
  IMAGE_NT_HEADERS *nt = (IMAGE_NT_HEADERS *)(b + ((IMAGE_DOS_HEADER *)b)->e_lfanew);
  unsigned long long base = (unsigned long long)(ULONG_PTR)b;
  DWORD size = nt->OptionalHeader.SizeOfImage;
  fwrite(&base, 8, 1, f);
  fwrite(&size, 4, 1, f);
  for (DWORD off = 0; off < size; off += 4096) {
    MEMORY_BASIC_INFORMATION mi;
    static unsigned char zero[4096];
    DWORD n = size - off < 4096 ? size - off : 4096;
    if (VirtualQuery(b + off, &mi, sizeof mi) && mi.State == MEM_COMMIT && !(mi.Protect & (PAGE_NOACCESS | PAGE_GUARD)))
      fwrite(b + off, 1, n, f);
    else
      fwrite(zero, 1, n, f);
  }
  return 0;
}
int main(int argc, char **argv) {
  if (argc != 4) return 2;
  HMODULE a = LoadLibraryA(argv[1]);
  HMODULE b = LoadLibraryA(argv[2]);
  if (!a || !b) { fprintf(stderr, "LoadLibrary failed: %lu\n", GetLastError()); return 3; }
  FILE *f = fopen(argv[3], "wb");
  if (!f) return 4;
  dump(f, a);
  dump(f, b);
  fclose(f);
  printf("%p %p\n", (void *)a, (void *)b);
  return 0;
}
