import test from "ava";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  AddressRecord,
  chooseAddressOwnership,
  CONTROL_PLANE_ADDRESS_PROTOCOL,
  isInherited,
  KernelMark,
  LEGACY_ADDRESS_PROTOCOL,
  MARK_PROBE_ADDRESS,
  probeKernelMark,
  recordFileOf,
  SERVICES_ADDRESS_PROTOCOL,
  type ListedAddress,
} from "../../src/net/address-ownership.ts";
import type { AddAddressOptions, Address } from "../../src/net/netlink.ts";

const BOOT = "0b1a2c3d-boot";
const KEY = { ifindex: 2, address: "198.51.100.70", prefixLength: 32 };

function listed(overrides: Partial<ListedAddress> = {}): ListedAddress {
  return { ...KEY, protocol: 0, validLifetime: 30, ...overrides };
}

function recordFile(t: { teardown: (fn: () => void) => void }): string {
  const directory = mkdtempSync(path.join(tmpdir(), "vipd-record-"));
  t.teardown(() => {
    rmSync(directory, { recursive: true, force: true });
  });
  return path.join(directory, "run", "services.addresses");
}

test("the kernel mark: marked and expiring is vipd's; permanent or unmarked is not", (t) => {
  const mark = new KernelMark("services");
  t.true(mark.owns(listed({ protocol: SERVICES_ADDRESS_PROTOCOL })));
  t.false(mark.owns(listed({ protocol: SERVICES_ADDRESS_PROTOCOL, validLifetime: Infinity })));
  t.false(mark.owns(listed()));
});

// Who owns an address, by its mark, for each mode's agent: each only its own, and the older
// release's mark nobody (inherited: never swept, taken over by whoever installs it).
const OWNERS = [
  { mark: SERVICES_ADDRESS_PROTOCOL, services: true, controlPlane: false, inherited: false },
  { mark: CONTROL_PLANE_ADDRESS_PROTOCOL, services: false, controlPlane: true, inherited: false },
  { mark: LEGACY_ADDRESS_PROTOCOL, services: false, controlPlane: false, inherited: true },
  { mark: 0, services: false, controlPlane: false, inherited: false },
] as const;

for (const row of OWNERS) {
  test(`the kernel mark ${row.mark}: services ${row.services}, control plane ${row.controlPlane}, inherited ${row.inherited}`, (t) => {
    const address = listed({ protocol: row.mark });
    t.is(new KernelMark("services").owns(address), row.services);
    t.is(new KernelMark("control-plane").owns(address), row.controlPlane);
    t.is(isInherited(address), row.inherited);
  });
}

test("a permanent address with the older release's mark is nobody's, not inherited", (t) => {
  t.false(isInherited(listed({ protocol: LEGACY_ADDRESS_PROTOCOL, validLifetime: Infinity })));
});

test("each mode keeps its record in a file of its own, named as every earlier release named it", (t) => {
  t.is(recordFileOf("/run/vipd", "services"), "/run/vipd/services.addresses");
  t.is(recordFileOf("/run/vipd", "control-plane"), "/run/vipd/control-plane.addresses");
});

test("the record: an address is vipd's from before its add until its removal, and survives a restart", (t) => {
  const file = recordFile(t);
  const record = AddressRecord.open({ file, bootId: BOOT });
  t.false(record.owns(listed()));
  record.adding(KEY);
  t.true(record.owns(listed()));
  t.false(record.owns(listed({ validLifetime: Infinity })), "a permanent address is nobody's VIP");
  t.false(record.owns(listed({ prefixLength: 24 })), "another prefix length is another address");
  t.false(record.owns(listed({ ifindex: 3 })));
  const reopened = AddressRecord.open({ file, bootId: BOOT });
  t.deepEqual(reopened.entries(), ["2 198.51.100.70/32"]);
  reopened.removed(KEY);
  t.deepEqual(AddressRecord.open({ file, bootId: BOOT }).entries(), []);
});

test("the record of another boot, and a torn last line, count for nothing", (t) => {
  const file = recordFile(t);
  AddressRecord.open({ file, bootId: BOOT }).adding(KEY);
  t.deepEqual(AddressRecord.open({ file, bootId: "another-boot" }).entries(), []);
  const record = AddressRecord.open({ file, bootId: BOOT });
  record.adding(KEY);
  appendFileSync(file, "+ 2 198.51.1");
  t.deepEqual(AddressRecord.open({ file, bootId: BOOT }).entries(), ["2 198.51.100.70/32"]);
});

test("prune drops entries whose address is gone or has become permanent", (t) => {
  const file = recordFile(t);
  const record = AddressRecord.open({ file, bootId: BOOT });
  const other = { ifindex: 2, address: "198.51.100.71", prefixLength: 32 };
  const third = { ifindex: 2, address: "198.51.100.72", prefixLength: 32 };
  for (const key of [KEY, other, third]) record.adding(key);
  record.prune([listed(), listed({ ...other, validLifetime: Infinity })]);
  t.deepEqual(record.entries(), ["2 198.51.100.70/32"]);
  t.deepEqual(AddressRecord.open({ file, bootId: BOOT }).entries(), ["2 198.51.100.70/32"]);
});

test("the record is compacted when it has grown, keeping what is live", (t) => {
  const file = recordFile(t);
  const record = AddressRecord.open({ file, bootId: BOOT });
  record.adding(KEY);
  for (let round = 0; round < 500; round++) {
    const key = { ifindex: 2, address: "198.51.100.80", prefixLength: 32 };
    record.adding(key);
    record.removed(key);
  }
  t.true(readFileSync(file, "utf8").split("\n").length < 300);
  t.deepEqual(AddressRecord.open({ file, bootId: BOOT }).entries(), ["2 198.51.100.70/32"]);
});

test("the record's directory that cannot be created stops the agent from starting", (t) => {
  const file = recordFile(t);
  writeFileSync(path.dirname(path.dirname(file)) + "/run", "a file, not a directory");
  t.throws(() => AddressRecord.open({ file, bootId: BOOT }));
});

/** A loopback whose kernel keeps IFA_PROTO or drops it, with a log of the probe's calls. */
function loopback(options: { keeps: boolean; existing?: number }) {
  const addresses: Address[] = [];
  const log: string[] = [];
  if (options.existing !== undefined) {
    addresses.push({
      ifindex: 1,
      family: 4,
      address: MARK_PROBE_ADDRESS,
      prefixLength: 32,
      protocol: options.existing,
      validLifetime: 5,
      preferredLifetime: 5,
      flags: [],
      label: "lo",
    });
  }
  return {
    log,
    listLinks: () => [
      {
        index: 1,
        name: "lo",
        mac: null,
        mtu: 65536,
        operstate: "unknown" as const,
        carrier: true,
        up: true,
        loopback: true,
        noArp: true,
      },
    ],
    listAddresses: () => addresses,
    addAddress: (request: AddAddressOptions) => {
      log.push(`add ${request.address}/${request.prefixLength} lifetime ${request.validLifetime}`);
      if (addresses.length > 0) throw Object.assign(new Error("EEXIST"), { code: "EEXIST" });
      addresses.push({
        ...request,
        family: 4,
        protocol: options.keeps ? request.protocol : 0,
        flags: [],
        label: "lo",
      });
    },
    deleteAddress: (key: { address: string }) => {
      log.push(`delete ${key.address}`);
      addresses.length = 0;
    },
  };
}

test("the start-up probe reads the mark back from a short-lived loopback address and removes it", (t) => {
  const keeping = loopback({ keeps: true });
  t.deepEqual(probeKernelMark(keeping, CONTROL_PLANE_ADDRESS_PROTOCOL), { keeps: true });
  t.deepEqual(keeping.log, [`add ${MARK_PROBE_ADDRESS}/32 lifetime 5`, `delete ${MARK_PROBE_ADDRESS}`]);
  const dropping = loopback({ keeps: false });
  t.false(probeKernelMark(dropping, SERVICES_ADDRESS_PROTOCOL).keeps);
  t.deepEqual(dropping.log.at(-1), `delete ${MARK_PROBE_ADDRESS}`);
});

test("a probe address that is there already is never removed; one with any of vipd's marks answers", (t) => {
  for (const existing of [
    SERVICES_ADDRESS_PROTOCOL,
    CONTROL_PLANE_ADDRESS_PROTOCOL,
    LEGACY_ADDRESS_PROTOCOL,
  ]) {
    const another = loopback({ keeps: true, existing });
    t.deepEqual(probeKernelMark(another, SERVICES_ADDRESS_PROTOCOL), { keeps: true }, `mark ${existing}`);
    t.false(another.log.some((line) => line.startsWith("delete")));
  }
  const unmarked = loopback({ keeps: true, existing: 0 });
  t.false(probeKernelMark(unmarked, SERVICES_ADDRESS_PROTOCOL).keeps);
  t.false(unmarked.log.some((line) => line.startsWith("delete")));
});

test("--address-marking: auto falls back to the record, kernel refuses, record never probes", (t) => {
  const file = recordFile(t);
  const dropping = loopback({ keeps: false });
  const auto = chooseAddressOwnership({
    marking: "auto",
    mode: "services",
    netlink: dropping,
    recordFile: file,
    bootId: BOOT,
  });
  t.is(auto.ownership.method, "record");
  t.is(auto.ownership.protocol, 0, "an unmarked address, as that kernel makes it");
  t.throws(() =>
    chooseAddressOwnership({
      marking: "kernel",
      mode: "services",
      netlink: dropping,
      recordFile: file,
      bootId: BOOT,
    }),
  );
  const keeping = loopback({ keeps: true });
  t.is(
    chooseAddressOwnership({
      marking: "auto",
      mode: "control-plane",
      netlink: keeping,
      recordFile: file,
      bootId: BOOT,
    }).ownership.method,
    "kernel",
  );
  const forced = loopback({ keeps: true });
  t.is(
    chooseAddressOwnership({
      marking: "record",
      mode: "services",
      netlink: forced,
      recordFile: file,
      bootId: BOOT,
    }).ownership.method,
    "record",
  );
  t.deepEqual(forced.log, []);
});
