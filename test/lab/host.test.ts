// Where the lab reads a host's files: through its state volume for paths under the volume's mount
// point, as the host itself sees them; the host's own root elsewhere.
import { resolve } from "path";
import { describe, expect, it } from "vitest";
import { hostPath } from "../../lab/host";

describe("hostPath", () => {
  const host = {
    name: "ca",
    certname: "ca.example.internal",
    root: "/lab/hosts/ca",
    volume: { dir: "/lab/volumes/ca", mountPoint: "/etc/puppet/puppetserver/ca" },
  };

  it("reads a path under the volume's mount point from the volume", () => {
    expect(hostPath(host, "/etc/puppet/puppetserver/ca/serial")).toBe("/lab/volumes/ca/serial");
    expect(hostPath(host, "/etc/puppet/puppetserver/ca")).toBe("/lab/volumes/ca");
  });

  it("reads any other path, a sibling with the same prefix too, from the host's root", () => {
    expect(hostPath(host, "/etc/puppet/puppetserver/ca.conf")).toBe(
      resolve("/lab/hosts/ca/fs/etc/puppet/puppetserver/ca.conf"),
    );
    expect(hostPath({ ...host, volume: undefined }, "/etc/puppet/puppetserver/ca/serial")).toBe(
      "/lab/hosts/ca/fs/etc/puppet/puppetserver/ca/serial",
    );
  });
});
