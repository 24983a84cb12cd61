// integration tests. Node 24 strips TypeScript types natively, so ava loads .ts files as they are.
export default {
  files: ["test/integration/**/*.test.ts"],
  extensions: ["ts"],
  timeout: "10m",
  concurrency: 1,
  serial: true,
  workerThreads: false,
  failWithoutAssertions: true,
};
