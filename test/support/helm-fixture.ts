// Shared set-up of the chart-*.test.ts tests: one real helm per test file, installed and given its private home
// before the file's tests (the install may download helm, hence the long timeout) and disposed of after them.
import {createHelm, type Helm} from './helm.js';
import {useSuiteResource} from './suite-resource.js';

/**
 * Registers the file's helm with jest and returns it. The returned Helm forwards to the one created in beforeAll, so
 * tests call it like the result of createHelm; calling it outside a test or hook (at module load) throws.
 */
export function useHelm(create: () => Promise<Helm> = createHelm): Helm {
  const current = useSuiteResource('helm', create, async (helm) => helm?.dispose(), 300_000);
  return {
    get bin() {
      return current().bin;
    },
    run: (args, options) => current().run(args, options),
    lint: (chartDir, values) => current().lint(chartDir, values),
    templateYaml: (chartDir, values, options) => current().templateYaml(chartDir, values, options),
    template: (chartDir, values, options) => current().template(chartDir, values, options),
    dispose: () => current().dispose(),
  };
}
