import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { scriptKey, storedScripts } from "../hostconfig/scripts";

export interface ScriptStoreArgs {
  /**
   * The site's name, the start of the bucket's name (S3 adds a unique suffix): a DNS label, as the
   * catalogue requires.
   */
  readonly site: string;
  /** Tags of the bucket. Default none. */
  readonly tags?: Record<string, string>;
}

/** Longest bucket prefix S3 accepts (the provider appends 26 characters of its own). */
const MAX_BUCKET_PREFIX = 37;

/**
 * The site's host scripts in a private bucket of its region, one object per script version, keyed
 * by its SHA-256: user data lists the hashes a host runs, and the host checks each object against
 * its hash before it installs it. A changed script is a new object, created before the hosts that
 * name it (their user data changes with it, so they are replaced); the old object is deleted at the
 * end of that update. Nothing here is state: every object comes from the program, so the bucket may
 * be emptied and destroyed with the stack.
 */
export class ScriptStore extends pulumi.ComponentResource {
  public readonly bucketName: pulumi.Output<string>;
  public readonly bucketArn: pulumi.Output<string>;

  constructor(name: string, args: ScriptStoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("puppet:hosts:ScriptStore", name, {}, opts);
    const bucket = new aws.s3.Bucket(
      `${name}-bucket`,
      {
        // "scripts-" first: a site name may not start a bucket name (xn--, sthree-).
        bucketPrefix: `scripts-${args.site}`.slice(0, MAX_BUCKET_PREFIX - 1) + "-",
        forceDestroy: true,
        tags: args.tags,
      },
      { parent: this },
    );
    const publicAccess = new aws.s3.BucketPublicAccessBlock(
      `${name}-private`,
      {
        bucket: bucket.bucket,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
      { parent: this },
    );
    for (const script of storedScripts()) {
      new aws.s3.BucketObjectv2(
        `${name}-${script.name}`,
        {
          bucket: bucket.bucket,
          key: scriptKey(script),
          content: script.content,
          contentType: "text/plain; charset=utf-8",
          tags: { ...args.tags, "puppet:script": script.name },
        },
        // Created before the hosts whose user data names its key; deleted after they are replaced.
        { parent: this, dependsOn: [publicAccess] },
      );
    }
    this.bucketName = bucket.bucket;
    this.bucketArn = bucket.arn;
    this.registerOutputs({ bucketName: this.bucketName, bucketArn: this.bucketArn });
  }
}
