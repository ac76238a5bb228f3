/**
 * Options `lanyard check` and `lanyard certs rotate` share: where the proxies and the
 * identity service are (`--proxy`, `--identity-addr`, ...) and how to reach a cluster
 * (`--kubernetes`, `--kubeconfig`, `--control-namespace`). Values go through src/util's
 * grammar like every other option.
 */
import { Option, type Command } from 'commander';
import { TrustDomain } from '../pki/names.js';
import { formatAddress, parseAddress } from '../util/address.js';
import { parseFlag, setKind, UsageError } from './cli-conventions.js';
import { addressOption, durationOption, flagOption, pathOption, textOption, trustDomainFrom, trustDomainOption } from './cli-options.js';
import type { HostPort } from '../util/address.js';

/** `--proxy <host:port>`, repeatable: each a dial address, kept as `host:port` text. */
export function proxyOption(description = "a proxy's admin address (repeatable), e.g. 10.0.0.7:4191"): Option {
  const o = new Option('--proxy <host:port>', description);
  o.argParser((text: string, previous: string[] = []) => [...previous, formatAddress(parseFlag('--proxy', undefined, () => parseAddress(text, 'dial')))]);
  return setKind(o, 'address');
}

export interface MeshOptions {
  proxy?: string[];
  identityAddr?: HostPort;
  identityAdminAddr?: HostPort;
  identityName?: string;
  kubernetes?: boolean;
  kubeconfig?: string;
  trustDomain: string;
  controlNamespace: string;
  timeout: number;
}

export function addMeshOptions(cmd: Command): Command {
  return cmd
    .addOption(proxyOption())
    .addOption(addressOption('--identity-addr <host:port>', "the identity service's Certify address, to check its TLS name and chain", 'dial'))
    .addOption(addressOption('--identity-admin-addr <host:port>', "the identity service's admin address, for /ready and its clock", 'dial'))
    .addOption(textOption('--identity-name <name>', 'the name the identity service must present (default: lanyard-identity.<control-ns>.serviceaccount.identity.<control-ns>.<trust-domain>)'))
    .addOption(flagOption('--kubernetes', 'read the issuer Secret, the bundle ConfigMap and the meshed pods through the Kubernetes API'))
    .addOption(pathOption('--kubeconfig <file>', 'kubeconfig for --kubernetes (default: the files the variable lists, merged as kubectl merges them; else in-cluster, else ~/.kube/config)', { env: 'KUBECONFIG' }))
    .addOption(trustDomainOption())
    .addOption(textOption('--control-namespace <ns>', 'control-plane namespace: where the Secret and ConfigMap live, and part of identities', { env: 'LANYARD_CONTROL_NAMESPACE', default: 'lanyard' }))
    .addOption(durationOption('--timeout <duration>', 'deadline of each network call', { default: '5s', min: 1 }));
}

/** A KUBECONFIG from the environment may be a list: leave it to loadKubeConfig, which merges it. */
export function kubeconfigFlag(o: MeshOptions, cmd: Command): string | undefined {
  return cmd.getOptionValueSource('kubeconfig') === 'env' ? undefined : o.kubeconfig;
}

/** The identity service's expected name, from --identity-name or the trust domain. */
export function identityNameOf(o: MeshOptions): string {
  const td: TrustDomain = trustDomainFrom(o.trustDomain, o.controlNamespace);
  if (o.identityName !== undefined && !o.identityName.trim()) throw new UsageError('--identity-name: expected a DNS name');
  return o.identityName ?? td.identity({ namespace: td.controlNamespace, serviceAccount: 'lanyard-identity' });
}
