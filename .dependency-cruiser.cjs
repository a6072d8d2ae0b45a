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
