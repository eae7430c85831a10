/**
 * Import thunks: `FF 25 rel32`, `jmp [rip+slot]` through an IAT slot, the stubs linkers emit
 * for calls to imports (MSVC's `__imp_` jumps, mingw's import stubs, the handler thunks unwind
 * data names). One decoder for every stage that asks which import a jump target stands for.
 */
import type { ImportName, MappedImage } from './map-image.ts';

/** The IAT slot the thunk at `rva` jumps through, or undefined when no `jmp [rip+slot]` is there. */
export function thunkSlot(image: Uint8Array, rva: number): number | undefined {
  if (rva < 0 || rva + 6 > image.length || image[rva] !== 0xff || image[rva + 1] !== 0x25) return undefined;
  return rva + 6 + new DataView(image.buffer, image.byteOffset).getInt32(rva + 2, true);
}

/** The import the thunk at `rva` of `img` jumps to, or undefined. */
export function thunkImport(img: MappedImage, rva: number): ImportName | undefined {
  const slot = thunkSlot(img.image, rva);
  return slot === undefined ? undefined : img.iat.get(slot);
}
