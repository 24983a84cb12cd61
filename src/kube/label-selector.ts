// A metav1.LabelSelector evaluated as the API server and client-go evaluate it
// (LabelSelectorAsSelector, then Matches), for a VIPPool's serviceAllocation selectors.
import type { V1LabelSelector, V1LabelSelectorRequirement } from "@kubernetes/client-node";

/**
 * Whether labels satisfy selector: every matchLabels pair and every matchExpressions requirement
 * (In, NotIn, Exists, DoesNotExist). The empty selector matches everything. A selector that
 * client-go refuses to convert (an unknown operator, In or NotIn without values, Exists or
 * DoesNotExist with values) matches nothing, so a mistyped selector never widens who is admitted.
 */
export function matchesSelector(
  selector: V1LabelSelector,
  labels: Readonly<Record<string, string>>,
): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (!Object.hasOwn(labels, key) || labels[key] !== value) return false;
  }
  return (selector.matchExpressions ?? []).every((requirement) => requirementMatches(requirement, labels));
}

function requirementMatches(
  requirement: V1LabelSelectorRequirement,
  labels: Readonly<Record<string, string>>,
): boolean {
  const values = requirement.values ?? [];
  const value = Object.hasOwn(labels, requirement.key) ? labels[requirement.key] : undefined;
  switch (requirement.operator) {
    case "In":
      return values.length > 0 && value !== undefined && values.includes(value);
    case "NotIn":
      return values.length > 0 && (value === undefined || !values.includes(value));
    case "Exists":
      return values.length === 0 && value !== undefined;
    case "DoesNotExist":
      return values.length === 0 && value === undefined;
    default:
      return false;
  }
}
