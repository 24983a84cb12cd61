// e2e tests. Node 24 strips TypeScript types natively, so ava loads .ts files as they are.
export default {
  files: ["test/e2e/**/*.test.ts"],
  extensions: ["ts"],
  timeout: "10m",
  concurrency: 1,
  serial: true,
  workerThreads: false,
  failWithoutAssertions: true,
};
