/*
 * grow: the fixed function grows to several times its size. v1's checksum is a plain byte
 * sum (collides on reordered input); v2 is a bitwise CRC-32 combined with a Fletcher-16,
 * several times longer, so its new body cannot fit in the old one's place.
 * Changed function: checksum.
 *
 * objdump -d: compare the distance from <checksum> to the next symbol in v1 and v2.
 */
#define HP_NAME "grow"
#include "../common/harness.h"

HP_FN unsigned checksum(const unsigned char *p, int n) {
#if HP_VERSION == 1
  unsigned s = 0;
  for (int i = 0; i < n; i++) s += p[i];
  return s;
#else
  unsigned crc = 0xffffffffu;
  unsigned a = 1, b = 0;
  for (int i = 0; i < n; i++) {
    crc ^= p[i];
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    a = (a + p[i]) % 255u;
    b = (b + a) % 255u;
    if (p[i] == 0) crc = (crc << 3) | (crc >> 29);
  }
  crc = ~crc;
  return crc ^ ((b << 8) | a) ^ ((unsigned)n << 24);
#endif
}

static void hp_vectors(hp_out *o) {
  static const char *const texts[] = { "", "abc", "cba", "hotpatch", "The quick brown fox" };
  for (unsigned k = 0; k < sizeof texts / sizeof texts[0]; k++) {
    int n = 0;
    while (texts[k][n]) n++;
    out_str(o, "checksum(\"");
    out_str(o, texts[k]);
    out_str(o, "\") = ");
    out_hex(o, checksum((const unsigned char *)texts[k], n));
    out_nl(o);
  }
}
