// labutil: the module the lab's Puppetfile installs from git. The exported peer files are named by
// its function, so a catalog compiles only when r10k has installed it at the commit pinned.

export function labutilFiles(): Record<string, string> {
  return {
    "metadata.json": `${JSON.stringify(
      {
        name: "lab-labutil",
        version: "0.1.0",
        author: "lab",
        summary: "Helpers of the puppet-multisite lab's control repository",
        license: "Apache-2.0",
        source: "lab/control-repo-module.ts",
        dependencies: [],
      },
      null,
      2,
    )}\n`,
    "functions/peer_path.pp": `# Where a node's exported peer file lives: the exporting and the collecting node agree on it.
function labutil::peer_path(String[1] $certname) >> String[1] {
  "/tmp/puppet-multisite-lab-peers/\${certname}"
}
`,
  };
}
