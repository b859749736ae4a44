import { describe, expect, it } from "vitest";
import { gitSshPort, parseGitUrl } from "../infra/control-repo";

describe("gitSshPort", () => {
  it.each([
    ["https://git.example.com/puppet/control-repo.git", undefined],
    ["https://git.example.com:8443/puppet/control-repo.git", undefined],
    ["git@git.example.com:puppet/control-repo.git", 22],
    // scp-like syntax has no port: 2222 here is the start of the path.
    ["git@git.example.com:2222/control-repo.git", 22],
    ["ssh://git@git.example.com/puppet/control-repo.git", 22],
    ["ssh://git.example.com/puppet/control-repo.git", 22],
    ["ssh://git@git.example.com:2222/puppet/control-repo.git", 2222],
    ["ssh://git.example.com:2222/x.git", 2222],
    ["ssh://git@git.example.com:1/x.git", 1],
    ["ssh://git@git.example.com:65535/x.git", 65535],
  ])("%s -> %s", (url, port) => {
    expect(gitSshPort(url)).toBe(port);
  });

  it("fails on a URL masters cannot fetch, naming it", () => {
    expect(() => gitSshPort("http://git.example.com/x.git")).toThrow(
      'not a git URL masters can fetch: "http://git.example.com/x.git"',
    );
  });
});

describe("parseGitUrl", () => {
  it.each([
    [
      "https://git.example.com:8443/puppet/control-repo.git",
      { transport: "https", host: "git.example.com:8443", path: "puppet/control-repo.git" },
    ],
    [
      "ssh://deploy@git.example.com:2222/puppet/control-repo.git",
      { transport: "ssh", host: "git.example.com", sshPort: 2222, path: "puppet/control-repo.git" },
    ],
    [
      "git@git.example.com:puppet/control-repo.git",
      { transport: "ssh", host: "git.example.com", sshPort: 22, path: "puppet/control-repo.git" },
    ],
  ])("reads %s", (url, parsed) => {
    expect(parseGitUrl(url)).toEqual(parsed);
  });

  it.each([
    "http://git.example.com/control.git",
    "git://git.example.com/control.git",
    "ssh://git@git.example.com:0/control.git",
    "ssh://git@git.example.com:65536/control.git",
    "ssh://git@git.example.com:022/control.git",
    "ssh://git@git.example.com:/control.git",
    "ssh://git@git.example.com:2222",
    "/srv/git/control.git",
  ])("refuses %s", (url) => {
    expect(parseGitUrl(url)).toBeUndefined();
  });
});
