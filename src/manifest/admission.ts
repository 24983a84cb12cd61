// What RBAC cannot say: the agent patches Services only to write its vipd.io/holder annotation
// (src/kube/service-status.ts), yet `patch` on services lets whoever holds the token rewrite any
// Service's selector or externalIPs and steer its traffic. This ValidatingAdmissionPolicy, bound
// to the installation's ServiceAccount alone, refuses every update of a Service by that account
// that changes anything but vipd's own annotations: spec, labels, the other annotations, finalizers
// and ownerReferences must come out as they went in. Status goes through the /status subresource,
// which the policy does not match, and any other user's requests are not looked at.
import type {
  V1ValidatingAdmissionPolicy,
  V1ValidatingAdmissionPolicyBinding,
} from "@kubernetes/client-node";
import { ANNOTATION_HOLDER } from "../kube/names.ts";
import { commonLabels, SERVICE_ACCOUNT_NAME } from "./identity.ts";

/** The annotations the agent writes on Services: the only change its account may make to one. */
export const WRITTEN_SERVICE_ANNOTATIONS: readonly string[] = [ANNOTATION_HOLDER];

export function serviceAccountUser(namespace: string): string {
  return `system:serviceaccount:${namespace}:${SERVICE_ACCOUNT_NAME}`;
}

/** A DNS subdomain (admission objects allow no ":"), per installation like clusterScopedName. */
export function admissionPolicyName(namespace: string): string {
  return `vipd-${namespace}-service-writes`;
}

// Single-quoted: a CEL string in double quotes would be escaped in the YAML, which Prettier rewrites.
function celString(text: string): string {
  return `'${text}'`;
}

// Fields a Service may lack altogether: read with optional field access, so that an absent list or
// map equals an empty one and a patch that adds the first annotation is told apart from one that
// adds a label.
function unchanged(field: string, empty: string): string {
  return `object.metadata.?${field}.orValue(${empty}) == oldObject.metadata.?${field}.orValue(${empty})`;
}

export function serviceWritesPolicy(
  namespace: string,
): [V1ValidatingAdmissionPolicy, V1ValidatingAdmissionPolicyBinding] {
  const name = admissionPolicyName(namespace);
  const labels = commonLabels();
  const own = `[${WRITTEN_SERVICE_ANNOTATIONS.map(celString).join(", ")}]`;
  const denied = (what: string): string =>
    `vipd's ServiceAccount may change only the ${WRITTEN_SERVICE_ANNOTATIONS.join(", ")} annotation of a Service, not ${what}`;
  return [
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicy",
      metadata: { name, labels },
      spec: {
        // An API server that cannot evaluate the policy refuses the write rather than let it through.
        failurePolicy: "Fail",
        matchConstraints: {
          resourceRules: [
            // scope as the API server defaults it: a defaulted field in this list would make every
            // `kubectl apply` of the manifests report the policy "configured".
            {
              apiGroups: [""],
              apiVersions: ["v1"],
              operations: ["UPDATE"],
              resources: ["services"],
              scope: "*",
            },
          ],
        },
        matchConditions: [
          {
            name: "vipd-service-account",
            expression: `request.userInfo.username == ${celString(serviceAccountUser(namespace))}`,
          },
        ],
        variables: [
          { name: "own", expression: own },
          { name: "before", expression: "oldObject.metadata.?annotations.orValue({})" },
          { name: "after", expression: "object.metadata.?annotations.orValue({})" },
        ],
        validations: [
          { expression: "object.spec == oldObject.spec", message: denied("its spec") },
          { expression: unchanged("labels", "{}"), message: denied("its labels") },
          {
            expression:
              "variables.after.all(key, key in variables.own || (key in variables.before && variables.before[key] == variables.after[key])) && variables.before.all(key, key in variables.own || key in variables.after)",
            message: denied("other annotations"),
          },
          { expression: unchanged("finalizers", "[]"), message: denied("its finalizers") },
          { expression: unchanged("ownerReferences", "[]"), message: denied("its ownerReferences") },
        ],
      },
    },
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicyBinding",
      metadata: { name, labels },
      spec: { policyName: name, validationActions: ["Deny"] },
    },
  ];
}
