// The nested fields through which some properties of REPLACE_ON_CHANGE (force-new.ts) force a
// replacement, from the same provider sources: a change elsewhere in the property is made in place.

/** Properties that force replacement only through some of their nested fields. */
export const NESTED_REPLACE_ON_CHANGE: Readonly<
  Record<string, Readonly<Record<string, readonly string[]>>>
> = {
  // bucket.go: only the deprecated block's object_lock_enabled.
  "aws:s3/bucket:Bucket": { objectLockConfiguration: ["objectLockEnabled"] },
  // vpc_endpoint.go: dns_record_ip_type changes in place.
  "aws:ec2/vpcEndpoint:VpcEndpoint": {
    dnsOptions: ["privateDnsPreference", "privateDnsSpecifiedDomains"],
  },
  // lifecycle_policy.go: a schedule's copy_tags is ForceNew; the rest of policy_details is updated.
  "aws:dlm/lifecyclePolicy:LifecyclePolicy": { policyDetails: ["schedules.copyTags"] },
  // ec2_instance.go: a root volume's size, type, IOPS and throughput change in place; its encryption does not.
  "aws:ec2/instance:Instance": {
    cpuOptions: ["amdSevSnp"],
    rootBlockDevice: ["encrypted", "kmsKeyId"],
    ebsBlockDevices: [
      "deleteOnTermination",
      "deviceName",
      "encrypted",
      "iops",
      "kmsKeyId",
      "snapshotId",
      "throughput",
      "volumeSize",
      "volumeType",
    ],
    networkInterfaces: [
      "deleteOnTermination",
      "deviceIndex",
      "networkCardIndex",
      "networkInterfaceId",
    ],
  },
};
