/*
 * The bit-field word most layout probes relayout, included before their struct item: v1 holds
 * kind in bits 0-2 and level in 3-7, v2 swaps them (level 0-4, kind 5-7); on stays bit 8. The
 * probes' -fix twins spell out the v1 layout for both versions.
 */
struct flags {
#if HP_VERSION == 1
  unsigned kind : 3;
  unsigned level : 5;
#else
  unsigned level : 5;
  unsigned kind : 3;
#endif
  unsigned on : 1;
};
