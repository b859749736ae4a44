// The ports the deployment's services listen on, for the firewall, the load balancer, the rendered
// host configuration and the lab alike.

/** Every Puppet server (CA and compile masters). */
export const PUPPET_PORT = 8140;
/** PuppetDB's HTTPS API. */
export const PUPPETDB_PORT = 8081;
/** PostgreSQL. */
export const POSTGRES_PORT = 5432;
/** DNS, UDP and TCP: the Route 53 Resolver inbound endpoint. */
export const DNS_PORT = 53;
