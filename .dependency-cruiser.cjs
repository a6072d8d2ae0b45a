// The layering of src/ (CONTRIBUTING.md, "Layers"), checked by `npm run deps` in `npm test`:
//   main.ts, cli/ → lifecycle/ → http/ → inbound/, outbound/, upstream/ → keys/, store/, config/
// A lower layer never reaches up. Known violations that are still being removed sit in
// .dependency-cruiser-known-violations.json (`npm run deps:baseline` rewrites it); anything new fails.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'no import cycles, type-only imports included: a cycle makes two modules one, whatever the compiler erases',
      from: {},
      to: { circular: true },
    },
    {
      name: 'lower-layers-not-http',
      severity: 'error',
      comment: 'store/, keys/ and config/ are below the HTTP layer: they never import http/',
      from: { path: '^src/(store|keys|config)/' },
      to: { path: '^src/http/' },
    },
    {
      name: 'sides-not-http-or-cli',
      severity: 'error',
      comment: 'inbound/ and outbound/ (what each side presents) are below the HTTP layer: they never import http/ or cli/',
      from: { path: '^src/(inbound|outbound)/' },
      to: { path: '^src/(http|cli)/' },
    },
    {
      name: 'nothing-imports-cli',
      severity: 'error',
      comment: 'cli/ holds one-shot commands that only main.ts dispatches to',
      from: { pathNot: '^src/(main\\.ts$|cli/)' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'src-not-tests-or-scripts',
      severity: 'error',
      comment: 'the shipped code never imports the tests, their harnesses or the scripts',
      from: { path: '^src/' },
      to: { path: '^(test|scripts)/' },
    },
    {
      name: 'opentelemetry-only-in-tracing-otel',
      severity: 'error',
      comment:
        'the OpenTelemetry packages are loaded only when tracing.enabled: src/tracing/otel.ts alone imports them (the request path knows tracing/span.ts, which imports nothing of them)',
      from: { path: '^src/', pathNot: '^src/tracing/otel\\.ts$' },
      to: { path: '@opentelemetry/' },
    },
    {
      name: 'tracing-otel-imported-dynamically',
      severity: 'error',
      comment: 'src/tracing/otel.ts (the SDK) is imported with import(), by src/tracing/start.ts only: a static import would load the SDK with tracing off',
      from: { pathNot: '^src/tracing/start\\.ts$' },
      to: { path: '^src/tracing/otel\\.ts$' },
    },
    {
      name: 'tracing-otel-never-static',
      severity: 'error',
      comment: 'src/tracing/start.ts loads src/tracing/otel.ts with import() only',
      from: {},
      to: { path: '^src/tracing/otel\\.ts$', dynamic: false },
    },
    {
      name: 'src-not-dev-dependencies',
      severity: 'error',
      comment: 'a devDependency is not installed in production (`npm install --omit=dev`); type-only imports are erased and allowed',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    // type-only imports are part of the graph (and of its cycles)
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    // node_modules may be a symlink (git worktrees): keep its paths as node_modules/…
    preserveSymlinks: true,
    // @types/* and node: builtins resolve like the compiler resolves them
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
