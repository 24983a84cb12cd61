// The CustomResourceDefinitions of vipd's API group (src/addresses/api.ts): VIPPool and
// VIPAllocation, both cluster-scoped. Their structural schemas mirror api.ts field for field, and
// the CEL rules (x-kubernetes-validations) refuse a malformed object when it is applied, so that
// the agent's own checks are a second line, not the only one. Every list and string has a bound:
// the API server estimates each rule's cost from them and refuses a CRD whose rules could exceed
// its budget. The rules use Kubernetes' CEL IP and CIDR library (isIP, ip(), isCIDR, cidr()).
import { commonLabels } from "./identity.ts";
import { ANNOUNCEMENT_MODES } from "../routing/announcement-mode.ts";
import {
  VIP_ALLOCATION_KIND,
  VIP_ALLOCATION_PLURAL,
  VIP_POOL_KIND,
  VIP_POOL_PLURAL,
  VIPD_API_GROUP,
  VIPD_API_VERSION,
} from "../addresses/api.ts";

/** A CEL rule of x-kubernetes-validations. */
export interface ValidationRule {
  readonly rule: string;
  readonly message?: string;
  readonly messageExpression?: string;
  readonly reason?: "FieldValueInvalid" | "FieldValueForbidden" | "FieldValueRequired";
}

/** The part of OpenAPI v3 a structural schema uses, with the field names as the API server reads them. */
export interface Schema {
  readonly type: "object" | "array" | "string" | "integer" | "boolean";
  readonly description?: string;
  readonly format?: string;
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly additionalProperties?: Schema;
  readonly required?: readonly string[];
  readonly items?: Schema;
  readonly enum?: readonly string[];
  readonly default?: unknown;
  readonly pattern?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly maxProperties?: number;
  readonly "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  readonly "x-kubernetes-list-map-keys"?: readonly string[];
  readonly "x-kubernetes-map-type"?: "atomic" | "granular";
  readonly "x-kubernetes-validations"?: readonly ValidationRule[];
}

export interface PrinterColumn {
  readonly name: string;
  readonly type: "integer" | "string" | "boolean" | "date";
  readonly jsonPath: string;
  readonly description?: string;
  readonly priority?: number;
}

export interface CustomResourceDefinition {
  readonly apiVersion: "apiextensions.k8s.io/v1";
  readonly kind: "CustomResourceDefinition";
  readonly metadata: { readonly name: string; readonly labels: Record<string, string> };
  readonly spec: {
    readonly group: string;
    readonly scope: "Cluster";
    readonly names: {
      readonly kind: string;
      readonly listKind: string;
      readonly plural: string;
      readonly singular: string;
      readonly shortNames: readonly string[];
      readonly categories: readonly string[];
    };
    readonly versions: readonly {
      readonly name: string;
      readonly served: true;
      readonly storage: true;
      readonly schema: { readonly openAPIV3Schema: Schema };
      readonly subresources?: { readonly status: Record<string, never> };
      readonly additionalPrinterColumns: readonly PrinterColumn[];
    }[];
  };
}

/** "a-b" holds at most two IPv6 addresses in their longest text form ("…:255.255.255.255"). */
export const MAX_ADDRESS_ENTRY_LENGTH = 91;
/**
 * The range-order rule's estimated cost, times this many entries, is just within the API server's
 * budget for one rule (v1.37.2 refused 64 entries: 1.08 times the budget).
 */
export const MAX_POOL_ADDRESSES = 48;

// A pool's communities; the agent checks each number's range again (bgp-settings.ts), the pattern
// only keeps out what could never be one.
const MAX_COMMUNITIES = 16;
const COMMUNITY_PATTERN = "^[0-9]{1,10}:[0-9]{1,10}(:[0-9]{1,10})?$";
const MAX_IP_LENGTH = 45;
const MAX_SELECTORS = 16;
const MAX_NAMESPACES = 256;
const MAX_SHARING_SERVICES = 64;

// A label key (an optional DNS-subdomain prefix and "/", then a name) and a label value, as
// Kubernetes validates them; the name part's limit of 63 characters is left to the agent.
const LABEL_KEY_PATTERN =
  "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$";
const LABEL_VALUE_PATTERN = "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$";
const DNS_LABEL_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

// The address rules read one entry of spec.addresses (self, a string); an entry is a range when
// it has exactly two parts around "-" and both are IP addresses. cel.bind is not in the CRD
// environment (v1.37.2 refuses it), so the parts are spelled out each time.
const START = "self.split('-')[0]";
const END = "self.split('-')[1]";
const RANGE = `self.split('-').size() == 2 && isIP(${START}) && isIP(${END})`;

// The IP library compares addresses for equality only, so a range's order is read bit by bit:
// start < end exactly when, at the first bit k where they differ (start/k contains end, start/k+1
// does not), start has a 0 (its network at k+1 is its network at k). The bit positions are a map
// literal from k to k+1 in text, because the cost estimator cannot bound string(k) and refuses
// the rule; exists() stops at the one position that answers.
const NEXT_PREFIX = `{${Array.from({ length: 128 }, (_, bit) => `'${bit}': '${bit + 1}'`).join(", ")}}`;
const START_BEFORE_END =
  `${NEXT_PREFIX}.exists(k, (int(k) < 32 || ${START}.contains(':'))` +
  ` && cidr(${START} + '/' + k).containsIP(${END})` +
  ` && !cidr(${START} + '/' + ${NEXT_PREFIX}[k]).containsIP(${END})` +
  ` && cidr(${START} + '/' + ${NEXT_PREFIX}[k]).masked().ip() == cidr(${START} + '/' + k).masked().ip())`;

export const ADDRESS_RULES: readonly ValidationRule[] = [
  {
    rule: `isIP(self) || isCIDR(self) || (${RANGE})`,
    message:
      "must be an IP address, a CIDR (198.51.100.0/24) or a range of two addresses (198.51.100.10-198.51.100.20)",
  },
  {
    rule: "!isCIDR(self) || cidr(self).masked() == cidr(self)",
    message: "a CIDR must not have host bits set: write its network address",
  },
  {
    rule: `!(${RANGE}) || ip(${START}).family() == ip(${END}).family()`,
    message: "a range must not mix an IPv4 and an IPv6 address",
  },
  {
    rule: `!(${RANGE}) || ip(${START}).family() != ip(${END}).family() || ip(${START}) == ip(${END}) || ${START_BEFORE_END}`,
    message: "a range must not end before it starts",
  },
];

const labelSelector: Schema = {
  type: "object",
  description: "A label selector, as in a Deployment: matchLabels and matchExpressions must all match.",
  "x-kubernetes-map-type": "atomic",
  properties: {
    matchLabels: {
      type: "object",
      maxProperties: 64,
      additionalProperties: { type: "string", maxLength: 63, pattern: LABEL_VALUE_PATTERN },
      "x-kubernetes-validations": [
        {
          rule: `self.all(key, size(key) <= 317 && key.matches(r'${LABEL_KEY_PATTERN}'))`,
          message: "every key must be a label key (an optional DNS prefix and /, then a name)",
        },
      ],
    },
    matchExpressions: {
      type: "array",
      maxItems: 32,
      "x-kubernetes-list-type": "atomic",
      items: {
        type: "object",
        required: ["key", "operator"],
        properties: {
          key: { type: "string", maxLength: 317, pattern: LABEL_KEY_PATTERN },
          operator: { type: "string", enum: ["In", "NotIn", "Exists", "DoesNotExist"] },
          values: {
            type: "array",
            maxItems: 64,
            "x-kubernetes-list-type": "atomic",
            items: { type: "string", maxLength: 63, pattern: LABEL_VALUE_PATTERN },
          },
        },
        "x-kubernetes-validations": [
          {
            rule: "self.operator in ['In', 'NotIn'] ? has(self.values) && size(self.values) > 0 : !has(self.values) || size(self.values) == 0",
            message: "In and NotIn need values; Exists and DoesNotExist take none",
          },
        ],
      },
    },
  },
};

const count: Schema = { type: "string", maxLength: 40, pattern: "^[0-9]+$" };

const familyUsage: Schema = {
  type: "object",
  description: "Counts are text: an IPv6 pool's size does not fit a JSON number.",
  required: ["total", "allocated", "free"],
  properties: {
    total: count,
    allocated: { type: "integer", format: "int64", minimum: 0 },
    free: count,
  },
};

// metav1.Condition's schema, as controller-gen writes it for every CRD with conditions.
const condition: Schema = {
  type: "object",
  required: ["type", "status", "reason", "message", "lastTransitionTime"],
  properties: {
    type: {
      type: "string",
      maxLength: 316,
      pattern:
        "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
    },
    status: { type: "string", enum: ["True", "False", "Unknown"] },
    reason: {
      type: "string",
      minLength: 1,
      maxLength: 1024,
      pattern: "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
    },
    message: { type: "string", maxLength: 32768 },
    lastTransitionTime: { type: "string", format: "date-time" },
    observedGeneration: { type: "integer", format: "int64", minimum: 0 },
  },
};

export const VIP_POOL_SCHEMA: Schema = {
  type: "object",
  description: "Addresses vipd gives LoadBalancer Services that ask for none.",
  required: ["spec"],
  properties: {
    apiVersion: { type: "string" },
    kind: { type: "string" },
    metadata: { type: "object" },
    spec: {
      type: "object",
      required: ["addresses"],
      properties: {
        addresses: {
          type: "array",
          description:
            'IP addresses, CIDRs ("198.51.100.0/24", "2001:db8::/120") and ranges ("198.51.100.10-198.51.100.20"), IPv4 and IPv6 mixed.',
          minItems: 1,
          maxItems: MAX_POOL_ADDRESSES,
          "x-kubernetes-list-type": "set",
          items: {
            type: "string",
            maxLength: MAX_ADDRESS_ENTRY_LENGTH,
            "x-kubernetes-validations": ADDRESS_RULES,
          },
        },
        avoidBuggyIPs: {
          type: "boolean",
          description: "Skip addresses ending in .0 or .255, which some old clients treat as broadcast.",
          default: false,
        },
        autoAssign: {
          type: "boolean",
          description: "false: only Services that name the pool (vipd.io/pool) get addresses from it.",
          default: true,
        },
        disabled: {
          type: "boolean",
          description: "true: the pool hands out nothing new and keeps what it gave (draining it).",
          default: false,
        },
        mode: {
          type: "string",
          description:
            "How the pool's addresses reach the network: l2 (one holder answers ARP/NDP), bgp (one holder's host route is exported over BGP) or ecmp (every eligible node's host route is exported). Unset: the agents' --announce-mode.",
          enum: [...ANNOUNCEMENT_MODES],
        },
        bgp: {
          type: "object",
          description: "BGP attributes of the routes to the pool's addresses (bgp and ecmp modes).",
          properties: {
            communities: {
              type: "array",
              description:
                "Communities added to the routes: a:b (each 0-65535) or large communities a:b:c (each 0-4294967295).",
              maxItems: MAX_COMMUNITIES,
              "x-kubernetes-list-type": "set",
              items: { type: "string", maxLength: 32, pattern: COMMUNITY_PATTERN },
            },
            localPreference: {
              type: "integer",
              format: "int64",
              description: "LOCAL_PREF of the routes, sent to iBGP peers only.",
              minimum: 0,
              maximum: 4294967295,
            },
          },
        },
        serviceAllocation: {
          type: "object",
          description: "Which Services may take addresses from the pool, as MetalLB's IPAddressPool says it.",
          properties: {
            priority: {
              type: "integer",
              format: "int32",
              description: "Lower first; a pool without a priority comes after every pool with one.",
              minimum: 0,
              maximum: 2147483647,
            },
            namespaces: {
              type: "array",
              description: "The Service's namespace must be one of these, when any are given.",
              maxItems: MAX_NAMESPACES,
              "x-kubernetes-list-type": "set",
              items: { type: "string", maxLength: 63, pattern: DNS_LABEL_PATTERN },
            },
            namespaceSelectors: {
              type: "array",
              description: "The Service's namespace must match one of these, when any are given.",
              maxItems: MAX_SELECTORS,
              "x-kubernetes-list-type": "atomic",
              items: labelSelector,
            },
            serviceSelectors: {
              type: "array",
              description: "The Service must match one of these, when any are given.",
              maxItems: MAX_SELECTORS,
              "x-kubernetes-list-type": "atomic",
              items: labelSelector,
            },
          },
        },
      },
    },
    status: {
      type: "object",
      properties: {
        allocated: {
          type: "integer",
          format: "int64",
          description: "Addresses allocated from the pool, both families.",
          minimum: 0,
        },
        ipv4: familyUsage,
        ipv6: familyUsage,
        conditions: {
          type: "array",
          description: "Ready (valid, hands out addresses) and Conflicting (overlaps another pool).",
          maxItems: 16,
          "x-kubernetes-list-type": "map",
          "x-kubernetes-list-map-keys": ["type"],
          items: condition,
        },
        observedGeneration: { type: "integer", format: "int64", minimum: 0 },
      },
    },
  },
};

// The allocation's name in CEL (allocationName in api.ts): the IPv4 text itself; for IPv6 the eight
// groups, four hex digits each, joined by "-", which read back as an address once "-" is ":".
const NAME_IS_ADDRESS =
  "!isIP(self.spec.address) || (ip(self.spec.address).family() == 4" +
  " ? self.metadata.name == self.spec.address" +
  " : self.metadata.name.matches('^[0-9a-f]{4}(-[0-9a-f]{4}){7}$')" +
  " && ip(self.metadata.name.replace('-', ':')) == ip(self.spec.address))";

export const VIP_ALLOCATION_SCHEMA: Schema = {
  type: "object",
  description: "One address vipd gave one Service, or several sharing it; named after the address.",
  required: ["spec"],
  "x-kubernetes-validations": [
    {
      // fieldPath ".metadata.name" is refused (metadata has no properties in a CRD's schema), so
      // the message names the field.
      rule: NAME_IS_ADDRESS,
      messageExpression:
        "'metadata.name must be spec.address in allocationName form (IPv4 as is; IPv6 as eight 4-digit groups joined by -), not ' + self.metadata.name",
    },
  ],
  properties: {
    apiVersion: { type: "string" },
    kind: { type: "string" },
    metadata: { type: "object" },
    spec: {
      type: "object",
      required: ["address", "pool", "services"],
      properties: {
        address: {
          type: "string",
          description: "Canonical text form of the address.",
          maxLength: MAX_IP_LENGTH,
          "x-kubernetes-validations": [
            {
              rule: "isIP(self) && ip.isCanonical(self)",
              message: "must be an IP address in canonical form (lower case, shortest IPv6)",
            },
            { rule: "self == oldSelf", message: "the address of an allocation cannot change" },
          ],
        },
        pool: {
          type: "string",
          description: "The VIPPool it came from.",
          maxLength: 253,
        },
        services: {
          type: "array",
          description:
            "The Services it is given to: one, or several with the same sharing key. Empty once released.",
          maxItems: MAX_SHARING_SERVICES,
          "x-kubernetes-list-type": "map",
          "x-kubernetes-list-map-keys": ["uid"],
          items: {
            type: "object",
            required: ["namespace", "name", "uid"],
            properties: {
              namespace: { type: "string", maxLength: 63 },
              name: { type: "string", maxLength: 63 },
              uid: { type: "string", maxLength: 36 },
            },
          },
        },
        sharingKey: {
          type: "string",
          description: "vipd.io/allow-shared-ip (or its MetalLB and kube-vip equivalents) of its Services.",
          maxLength: 256,
        },
        releasedAt: {
          type: "string",
          format: "date-time",
          description:
            "When its last Service let it go: it is not handed out again until the cool-down ends.",
        },
      },
    },
  },
};

const AGE: PrinterColumn = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" };

function crd(options: {
  readonly kind: string;
  readonly plural: string;
  readonly shortName: string;
  readonly schema: Schema;
  readonly status: boolean;
  readonly columns: readonly PrinterColumn[];
}): CustomResourceDefinition {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${options.plural}.${VIPD_API_GROUP}`, labels: commonLabels() },
    spec: {
      group: VIPD_API_GROUP,
      scope: "Cluster",
      names: {
        kind: options.kind,
        listKind: `${options.kind}List`,
        plural: options.plural,
        singular: options.kind.toLowerCase(),
        shortNames: [options.shortName],
        categories: ["vipd"],
      },
      versions: [
        {
          name: VIPD_API_VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: options.schema },
          ...(options.status ? { subresources: { status: {} } } : {}),
          additionalPrinterColumns: [...options.columns, AGE],
        },
      ],
    },
  };
}

export function crdObjects(): [CustomResourceDefinition, CustomResourceDefinition] {
  return [
    crd({
      kind: VIP_POOL_KIND,
      plural: VIP_POOL_PLURAL,
      shortName: "vippool",
      schema: VIP_POOL_SCHEMA,
      status: true,
      columns: [
        { name: "Allocated", type: "integer", jsonPath: ".status.allocated" },
        { name: "IPv4 Free", type: "string", jsonPath: ".status.ipv4.free" },
        { name: "IPv6 Free", type: "string", jsonPath: ".status.ipv6.free" },
        { name: "Auto Assign", type: "boolean", jsonPath: ".spec.autoAssign" },
        { name: "Disabled", type: "boolean", jsonPath: ".spec.disabled" },
        { name: "Mode", type: "string", jsonPath: ".spec.mode" },
        {
          name: "Conflicting",
          type: "string",
          jsonPath: '.status.conditions[?(@.type=="Conflicting")].status',
        },
      ],
    }),
    crd({
      kind: VIP_ALLOCATION_KIND,
      plural: VIP_ALLOCATION_PLURAL,
      shortName: "vipalloc",
      schema: VIP_ALLOCATION_SCHEMA,
      status: false,
      columns: [
        { name: "Address", type: "string", jsonPath: ".spec.address" },
        { name: "Pool", type: "string", jsonPath: ".spec.pool" },
        // The server's Table shows the first match of a column's JSONPath only: the first Service.
        // Sharing Key (kubectl get -o wide) says when there are more.
        { name: "Services", type: "string", jsonPath: ".spec.services[*].name" },
        { name: "Sharing Key", type: "string", jsonPath: ".spec.sharingKey", priority: 1 },
        { name: "Released", type: "date", jsonPath: ".spec.releasedAt" },
      ],
    }),
  ];
}
