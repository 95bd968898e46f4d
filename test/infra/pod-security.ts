/**
 * Pod Security Standards `restricted` (Kubernetes' policy, latest version) as a function over a pod spec, so every
 * pod the stacks render, ours and the charts' templates with our values, is checked offline the way the API server's
 * admission will check it in a namespace labelled `pod-security.kubernetes.io/enforce: restricted`.
 * Each rule names the PSS control it implements.
 */
type Obj = Record<string, unknown>;
const SAFE_SYSCTLS = new Set(['kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.ip_unprivileged_port_start', 'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range', 'net.ipv4.ip_local_reserved_ports', 'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes']);
const RESTRICTED_VOLUMES = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']);

/** The restricted-policy violations of a pod spec, as `<control>: <detail>`; empty when admitted. */
export function restrictedViolations(pod: Obj): string[] {
  const out: string[] = [];
  const podSc = (pod.securityContext as Obj | undefined) ?? {};
  const containers = [...((pod.initContainers as Obj[] | undefined) ?? []), ...((pod.containers as Obj[] | undefined) ?? [])];
  for (const k of ['hostNetwork', 'hostPID', 'hostIPC']) if (pod[k] === true) out.push(`Host Namespaces: ${k}`);
  for (const v of (pod.volumes as Obj[] | undefined) ?? []) {
    const type = Object.keys(v).find((k) => k !== 'name');
    if (!type || !RESTRICTED_VOLUMES.has(type)) out.push(`Volume Types: ${String(v.name)} is ${type}`);
  }
  for (const s of (podSc.sysctls as Array<{ name: string }> | undefined) ?? []) if (!SAFE_SYSCTLS.has(s.name)) out.push(`Sysctls: ${s.name}`);
  const podSeccomp = (podSc.seccompProfile as Obj | undefined)?.type;
  if (podSeccomp === 'Unconfined') out.push('Seccomp: pod Unconfined');
  if (podSc.runAsUser === 0) out.push('Running as Non-root user: pod runAsUser 0');
  for (const c of containers) {
    const name = String(c.name);
    const sc = (c.securityContext as Obj | undefined) ?? {};
    if (sc.privileged === true) out.push(`Privileged Containers: ${name}`);
    for (const p of (c.ports as Obj[] | undefined) ?? []) if (p.hostPort) out.push(`Host Ports: ${name}`);
    if (sc.procMount !== undefined && sc.procMount !== 'Default') out.push(`/proc Mount Type: ${name}`);
    if (sc.allowPrivilegeEscalation !== false) out.push(`Privilege Escalation: ${name} must set allowPrivilegeEscalation false`);
    const nonRoot = sc.runAsNonRoot ?? podSc.runAsNonRoot;
    if (nonRoot !== true) out.push(`Running as Non-root: ${name} (runAsNonRoot true on the pod or the container)`);
    if (sc.runAsUser === 0) out.push(`Running as Non-root user: ${name} runAsUser 0`);
    const seccomp = (sc.seccompProfile as Obj | undefined)?.type ?? podSeccomp;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') out.push(`Seccomp: ${name} needs RuntimeDefault or Localhost (pod or container)`);
    const caps = (sc.capabilities as { drop?: string[]; add?: string[] } | undefined) ?? {};
    if (!(caps.drop ?? []).includes('ALL')) out.push(`Capabilities: ${name} must drop ALL`);
    for (const a of caps.add ?? []) if (a !== 'NET_BIND_SERVICE') out.push(`Capabilities: ${name} adds ${a}`);
  }
  return out;
}
