/**
 * NetworkPolicy semantics, enough to check the rendered policies against known pods: label selectors
 * (matchLabels, matchExpressions In/NotIn/Exists/DoesNotExist), peers (podSelector, namespaceSelector, ipBlock;
 * a missing namespaceSelector means the policy's own namespace), and the union of every policy that selects
 * a pod (NetworkPolicies only add). Hand-written: kubernetes-models validates shapes, it does not evaluate
 * selectors, and the rules need nothing more than this.
 */
import { at, isRecord, type KubeObject } from './manifest.ts';

export type Labels = Readonly<Record<string, string>>;

/** A pod as a policy sees it: its namespace (labelled `kubernetes.io/metadata.name`, as every namespace is) and labels. */
export interface PodIdentity {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Labels;
}

/** Does `selector` (a LabelSelector object) select `labels`? An empty selector selects everything. */
export function selects(selector: unknown, labels: Labels): boolean {
  if (!isRecord(selector)) return false;
  const matchLabels = isRecord(selector.matchLabels) ? selector.matchLabels : {};
  for (const [key, value] of Object.entries(matchLabels)) if (labels[key] !== value) return false;
  const expressions = Array.isArray(selector.matchExpressions) ? selector.matchExpressions : [];
  for (const e of expressions) {
    if (!isRecord(e) || typeof e.key !== 'string') return false;
    const values = Array.isArray(e.values) ? e.values.map(String) : [];
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    switch (e.operator) {
      case 'In':
        if (!has || !values.includes(value as string)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(value as string)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

const namespaceLabels = (namespace: string): Labels => ({ 'kubernetes.io/metadata.name': namespace });

/** Does the policy select this pod for ingress? */
export function policyApplies(policy: KubeObject, pod: PodIdentity): boolean {
  if (policy.metadata.namespace !== pod.namespace) return false;
  const types = at(policy, 'spec', 'policyTypes');
  const ingress = Array.isArray(types) ? types.includes('Ingress') : true;
  return ingress && selects(at(policy, 'spec', 'podSelector'), pod.labels);
}

export interface Admission {
  readonly from: PodIdentity;
  /** The ports it may reach; undefined = every port. */
  readonly ports: readonly string[] | undefined;
}

export interface IngressVerdict {
  /** Which of the candidate peers may connect, and on which ports. */
  readonly admitted: readonly Admission[];
  /** Rules that admit more than pods: no `from` (everyone), or an ipBlock. */
  readonly open: readonly string[];
}

/**
 * What the policies selecting `pod` let in, among `candidates`. With no policy selecting it the pod is
 * open to everything (the caller reports that); otherwise only what some rule admits gets through.
 */
export function ingressTo(
  pod: PodIdentity,
  policies: readonly KubeObject[],
  candidates: readonly PodIdentity[],
): IngressVerdict {
  const admitted: Admission[] = [];
  const open: string[] = [];
  for (const policy of policies.filter((p) => policyApplies(p, pod))) {
    const rules = at(policy, 'spec', 'ingress');
    for (const [i, rule] of (Array.isArray(rules) ? rules : []).entries()) {
      const where = `NetworkPolicy ${policy.metadata.name} ingress[${i}]`;
      const portsField = at(rule, 'ports');
      const ports = Array.isArray(portsField) ? portsField.map((p) => String(at(p, 'port'))) : undefined;
      const from = at(rule, 'from');
      if (!Array.isArray(from) || from.length === 0) {
        open.push(`${where} has no from: it admits every source`);
        continue;
      }
      for (const peer of from) {
        if (at(peer, 'ipBlock') !== undefined) {
          open.push(`${where} admits an ipBlock`);
          continue;
        }
        const podSelector = at(peer, 'podSelector');
        const nsSelector = at(peer, 'namespaceSelector');
        for (const c of candidates) {
          const sameNamespace = c.namespace === policy.metadata.namespace;
          const namespaceOk =
            nsSelector === undefined ? sameNamespace : selects(nsSelector, namespaceLabels(c.namespace));
          const podOk = podSelector === undefined || selects(podSelector, c.labels);
          if (namespaceOk && podOk) admitted.push({ from: c, ports });
        }
      }
    }
  }
  return { admitted, open };
}
