import type { V1LabelSelector } from "@kubernetes/client-node";
import test from "ava";
import { matchesSelector } from "../../src/kube/label-selector.ts";

const labels = { app: "dns", tier: "edge", empty: "" };

const table: [string, V1LabelSelector, boolean][] = [
  ["the empty selector matches everything", {}, true],
  ["empty lists match everything", { matchLabels: {}, matchExpressions: [] }, true],
  ["matchLabels: every pair present", { matchLabels: { app: "dns", tier: "edge" } }, true],
  ["matchLabels: one value differs", { matchLabels: { app: "dns", tier: "core" } }, false],
  ["matchLabels: a key missing", { matchLabels: { zone: "a" } }, false],
  ["matchLabels: an empty value matches an empty label", { matchLabels: { empty: "" } }, true],
  ["matchLabels: an empty value does not match a missing label", { matchLabels: { zone: "" } }, false],
  ["matchLabels: an inherited property is no label", { matchLabels: { constructor: "x" } }, false],
  [
    "In: the value listed",
    { matchExpressions: [{ key: "app", operator: "In", values: ["web", "dns"] }] },
    true,
  ],
  [
    "In: the value not listed",
    { matchExpressions: [{ key: "app", operator: "In", values: ["web"] }] },
    false,
  ],
  ["In: the key missing", { matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] }, false],
  [
    "In without values matches nothing",
    { matchExpressions: [{ key: "app", operator: "In", values: [] }] },
    false,
  ],
  [
    "NotIn: the value not listed",
    { matchExpressions: [{ key: "app", operator: "NotIn", values: ["web"] }] },
    true,
  ],
  [
    "NotIn: the value listed",
    { matchExpressions: [{ key: "app", operator: "NotIn", values: ["dns"] }] },
    false,
  ],
  ["NotIn: the key missing", { matchExpressions: [{ key: "zone", operator: "NotIn", values: ["a"] }] }, true],
  ["NotIn without values matches nothing", { matchExpressions: [{ key: "zone", operator: "NotIn" }] }, false],
  ["Exists: the key present", { matchExpressions: [{ key: "tier", operator: "Exists" }] }, true],
  ["Exists: an empty label is present", { matchExpressions: [{ key: "empty", operator: "Exists" }] }, true],
  ["Exists: the key missing", { matchExpressions: [{ key: "zone", operator: "Exists" }] }, false],
  [
    "Exists with values matches nothing",
    { matchExpressions: [{ key: "tier", operator: "Exists", values: ["edge"] }] },
    false,
  ],
  ["DoesNotExist: the key missing", { matchExpressions: [{ key: "zone", operator: "DoesNotExist" }] }, true],
  ["DoesNotExist: the key present", { matchExpressions: [{ key: "app", operator: "DoesNotExist" }] }, false],
  [
    "an unknown operator matches nothing",
    { matchExpressions: [{ key: "app", operator: "Equals", values: ["dns"] }] },
    false,
  ],
  [
    "operators are case-sensitive",
    { matchExpressions: [{ key: "app", operator: "in", values: ["dns"] }] },
    false,
  ],
  [
    "matchLabels and matchExpressions must all hold",
    {
      matchLabels: { app: "dns" },
      matchExpressions: [
        { key: "tier", operator: "In", values: ["edge"] },
        { key: "zone", operator: "DoesNotExist" },
      ],
    },
    true,
  ],
  [
    "one failing requirement fails the selector",
    {
      matchLabels: { app: "dns" },
      matchExpressions: [
        { key: "tier", operator: "In", values: ["edge"] },
        { key: "app", operator: "DoesNotExist" },
      ],
    },
    false,
  ],
  [
    "an unknown operator fails a selector whose other parts match",
    { matchLabels: { app: "dns" }, matchExpressions: [{ key: "tier", operator: "Gt", values: ["1"] }] },
    false,
  ],
];

for (const [rule, selector, expected] of table) {
  test(rule, (t) => {
    t.is(matchesSelector(selector, labels), expected);
  });
}

test("a selector with requirements matches no object without labels, the empty one does", (t) => {
  t.true(matchesSelector({}, {}));
  t.false(matchesSelector({ matchLabels: { app: "dns" } }, {}));
  t.true(matchesSelector({ matchExpressions: [{ key: "app", operator: "DoesNotExist" }] }, {}));
});
