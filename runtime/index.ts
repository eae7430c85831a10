/**
 * The portable runtime core: everything here runs in any JS runtime (Node, Deno, browsers,
 * workers). No `node:` module is imported from runtime/ outside its Node backends
 * (runtime/backends/win32-agent*); runtime/portable.test.ts proves it by running a bundle
 * of this file with no Node globals, from the bytes of a signed package file (signature checked
 * with WebCrypto, payload decompressed, plan, apply, revert).
 */
export { AddressSpace, isReadable, isWritable, type Region } from './image/address-space.ts';
export { createProcessImage, importAtStub, sectionProtection, stubFor, stubKey, type FunctionTable, type ProcessImage } from './image/process-image.ts';
export { loadProcessImage, type LoadOptions } from './image/load-image.ts';
export { parseModuleView, preferredView, readModuleView, type BoundImport, type ModuleView } from './image/module-view.ts';
export { ipInRanges, type ProcessBackend, type ProtectionRun, type TargetModule } from './plan/backend.ts';
export { checkIdentity, planPackage, type PlanOptions, type PlanTiming } from './plan/plan-package.ts';
export * from './plan/write-plan.ts';
export { MemoryBackend } from './backends/memory-backend.ts';
export { applyPlan, executeSteps, revertPlan, type ExecuteReport } from './apply/execute-plan.ts';
export { applyPackage, revertPackage, type ApplyReport, type FunctionTiming } from './apply/apply-package.ts';
export { applyPackageFile, type ApplyFileOptions, type ApplyFileReport } from './apply/apply-file.ts';
// What an embedder needs besides: the wasm core's initialisation (from bytes where there is
// no file system), the trusted keys (PEM -> WebCrypto key), and the loader's types and codes.
export { initPeParser } from './pe/wasm.ts';
export { importPublicKey, type PublicKey } from '../formats/keys.ts';
export { loadPackage, LOAD_ERROR_CODES, type LoadedPackage, type LoadOptions as LoadPackageOptions } from '../formats/container.ts';
