import test from "ava";
import { crdObjects, VIP_ALLOCATION_SCHEMA, VIP_POOL_SCHEMA, type Schema } from "../../src/manifest/crds.ts";

/** Every schema under this one, with its path (".spec.addresses[*]"). */
function walk(schema: Schema, path = ""): [string, Schema][] {
  return [
    [path, schema],
    ...Object.entries(schema.properties ?? {}).flatMap(([name, child]) => walk(child, `${path}.${name}`)),
    ...(schema.items === undefined ? [] : walk(schema.items, `${path}[*]`)),
    ...(schema.additionalProperties === undefined ? [] : walk(schema.additionalProperties, `${path}.*`)),
  ];
}

// The API server estimates a CEL rule's cost from the bounds of what it reads, and refuses a CRD
// whose rules could exceed its budget; an unbounded field added later would make it refuse them.
for (const [kind, schema] of [
  ["VIPPool", VIP_POOL_SCHEMA],
  ["VIPAllocation", VIP_ALLOCATION_SCHEMA],
] as const) {
  test(`${kind}: every list, map and string has a bound`, (t) => {
    const unbounded = walk(schema).filter(([path, each]) => {
      if (path === ".apiVersion" || path === ".kind") return false;
      if (each.type === "array") return each.maxItems === undefined;
      if (each.type === "object")
        return each.additionalProperties !== undefined && each.maxProperties === undefined;
      if (each.type === "string")
        return each.maxLength === undefined && each.enum === undefined && each.format !== "date-time";
      return false;
    });
    t.deepEqual(
      unbounded.map(([path]) => path),
      [],
    );
  });
}

test("every printer column reads a field the schema has", (t) => {
  for (const crd of crdObjects()) {
    const [version] = crd.spec.versions;
    if (version === undefined) throw new Error(`${crd.metadata.name} has no version`);
    const paths = new Set(walk(version.schema.openAPIV3Schema).map(([path]) => path));
    for (const column of version.additionalPrinterColumns) {
      if (column.jsonPath === ".metadata.creationTimestamp") continue;
      // A filter ([?(@.type=="Conflicting")]) picks items of a list, as [*] does.
      const path = column.jsonPath.replace(/\[\?\(.*?\)\]/g, "[*]");
      t.true(paths.has(path), `${crd.metadata.name} column ${column.name}: ${column.jsonPath}`);
    }
  }
});

test("the defaults are those api.ts documents, and only the pool has a status subresource", (t) => {
  const spec = VIP_POOL_SCHEMA.properties?.spec?.properties ?? {};
  t.deepEqual(
    Object.fromEntries(
      Object.entries(spec).flatMap(([name, each]) =>
        each.default === undefined ? [] : [[name, each.default]],
      ),
    ),
    { autoAssign: true, avoidBuggyIPs: false, disabled: false },
  );
  t.deepEqual(
    crdObjects().map((crd) => [
      crd.spec.names.kind,
      crd.spec.scope,
      crd.spec.versions[0]?.subresources !== undefined,
    ]),
    [
      ["VIPPool", "Cluster", true],
      ["VIPAllocation", "Cluster", false],
    ],
  );
});
