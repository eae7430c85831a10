/* tslint:disable */
/* eslint-disable */
export const memory: WebAssembly.Memory;
export const applyFixups: (a: number, b: number, c: number, d: number, e: bigint, f: bigint, g: bigint, h: number, i: number) => [number, number, number, number];
export const beginCall: () => void;
export const fits: (a: number) => number;
export const mapImage: (a: number, b: number, c: bigint) => [number, number, number, number];
export const mapImageLenient: (a: number, b: number) => [number, number, number, number];
export const parse: (a: number, b: number, c: number) => [number, number, number, number];
export const sha256: (a: number, b: number) => [number, number];
export const __wbindgen_externrefs: WebAssembly.Table;
export const __wbindgen_malloc: (a: number, b: number) => number;
export const __externref_table_dealloc: (a: number) => void;
export const __wbindgen_free: (a: number, b: number, c: number) => void;
export const __wbindgen_start: () => void;
