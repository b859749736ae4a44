// The lab's DNS: one dnsmasq per site, serving that site's view of the planned zone (the SRV and A
// records the program creates in Route 53), at the address where AWS puts the VPC resolver.
import { LabSite, Zone } from "./topology";

export interface DnsFiles {
  /** dnsmasq configuration. */
  readonly conf: string;
  /** hosts-format file of the A records (dnsmasq answers every address of a name from it). */
  readonly hosts: string;
}

/** Renders a site's dnsmasq files. It answers only from these records and forwards nothing. */
export function renderDns(site: LabSite, zone: Zone, hostsPath: string, ttl = 60): DnsFiles {
  const conf = [
    "no-resolv",
    "no-hosts",
    "no-poll",
    "bind-interfaces",
    `listen-address=${site.dnsAddress}`,
    "port=53",
    `addn-hosts=${hostsPath}`,
    `local-ttl=${ttl}`,
    ...[...zone.srv].flatMap(([name, targets]) =>
      targets.map((t) => `srv-host=${name},${t.target},${t.port},${t.priority},${t.weight}`),
    ),
  ];
  const hosts = [...zone.a].flatMap(([name, addresses]) => addresses.map((a) => `${a} ${name}`));
  return { conf: conf.join("\n") + "\n", hosts: hosts.join("\n") + "\n" };
}
