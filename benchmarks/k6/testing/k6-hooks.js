// Module-resolution hooks that let Node load the k6 scripts for checking: every `k6` and
// `k6/...` import resolves to a small stand-in in ./k6-stubs.js (see lib.test.ts).
const stubs = new URL('./k6-stubs.js', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'k6' || specifier.startsWith('k6/')) return { url: `${stubs}?module=${encodeURIComponent(specifier)}`, shortCircuit: true };
  return nextResolve(specifier, context);
}
