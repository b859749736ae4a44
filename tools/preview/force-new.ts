// The input properties whose change makes the provider replace the resource, per type this program
// creates: Terraform's ForceNew / RequiresReplace in the providers @pulumi/aws 7.48 (terraform-provider-aws
// v6), @pulumi/tls 5.6 and @pulumi/random 4.21 bridge, read from each resource's schema source
// (`internal/service/<service>/<resource>.go`, `internal/provider/resource_<name>.go`). In provider v6
// every regional resource has a `region` input, and changing it replaces the resource.
// A property listed here only for some of its nested fields is narrowed by NESTED_REPLACE_ON_CHANGE
// (force-new-nested.ts; a dotted path reaches deeper: `schedules.copyTags` is the copyTags of each
// schedule).

/** Every input of a random string or password replaces it (keepers when their values change). */
const RANDOM_STRING_INPUTS = [
  "keepers",
  "length",
  "lower",
  "minLower",
  "minNumeric",
  "minSpecial",
  "minUpper",
  "number",
  "numeric",
  "overrideSpecial",
  "special",
  "upper",
];

export const REPLACE_ON_CHANGE: Readonly<Record<string, readonly string[]>> = {
  // Source: internal/service/ec2/ec2_eip.go (v6 era, sdk-go-v2) + region guide.
  "aws:ec2/eip:Eip": [
    "address",
    "domain",
    "ipamPoolId",
    "networkBorderGroup",
    "publicIpv4Pool",
    "region",
  ],

  // Source: internal/service/ec2/ebs_volume.go (availability_zone, encrypted, kms_key_id,
  // multi_attach_enabled, outpost_arn, snapshot_id ForceNew; size, type, iops, throughput modified in
  // place) + region guide.
  "aws:ebs/volume:Volume": [
    "availabilityZone",
    "encrypted",
    "kmsKeyId",
    "multiAttachEnabled",
    "outpostArn",
    "region",
    "snapshotId",
  ],

  // Source: internal/service/ec2/ec2_volume_attachment.go (device_name, instance_id, volume_id
  // ForceNew) + region guide.
  "aws:ec2/volumeAttachment:VolumeAttachment": ["deviceName", "instanceId", "region", "volumeId"],

  // Source: internal/service/dlm/lifecycle_policy.go: everything is updated in place except a
  // schedule's copy_tags (ForceNew, see NESTED_REPLACE_ON_CHANGE) + region guide.
  "aws:dlm/lifecyclePolicy:LifecyclePolicy": ["policyDetails", "region"],

  // Source: internal/service/iam/role.go (name/name_prefix/path ForceNew). IAM is global: no region.
  "aws:iam/role:Role": ["name", "namePrefix", "path"],

  // Source: internal/service/ec2/vpc_.go (schema + resourceVPCCustomizeDiff) + region guide.
  // cidrBlock is also forced new in CustomizeDiff unless ipv4NetmaskLength (IPAM) is set.
  // instanceTenancy is not listed: the provider replaces the VPC for some tenancy changes from its
  // CustomizeDiff, a value rule not transcribed here; this program never sets it.
  "aws:ec2/vpc:Vpc": ["cidrBlock", "ipv4IpamPoolId", "ipv4NetmaskLength", "region"],

  // Source: internal/service/rds/parameter_group.go (description, family, name, name_prefix ForceNew).
  // family IS force-new: changing it replaces the parameter group.
  "aws:rds/parameterGroup:ParameterGroup": [
    "description",
    "family",
    "name",
    "namePrefix",
    "region",
  ],

  // Source: internal/service/kms/key.go (2026 copy).
  "aws:kms/key:Key": [
    "customKeyStoreId",
    "customerMasterKeySpec",
    "keyUsage",
    "multiRegion",
    "region",
    "xksKeyId",
  ],

  // Source: internal/service/iam/role_policy.go.
  "aws:iam/rolePolicy:RolePolicy": ["name", "namePrefix", "role"],

  // Source: internal/service/iam/role_policy_attachment.go (no Update; both ForceNew).
  "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ["policyArn", "role"],

  // Source: internal/service/ec2/vpc_internet_gateway.go (vpcId is attach/detach in place) + region guide.
  "aws:ec2/internetGateway:InternetGateway": ["region"],

  // Source: internal/service/iam/instance_profile.go (2026 copy). role is updated in place.
  "aws:iam/instanceProfile:InstanceProfile": ["name", "namePrefix", "path"],

  // Source: internal/service/kms/alias.go (targetKeyId is UpdateAlias, in place) + region guide.
  "aws:kms/alias:Alias": ["name", "namePrefix", "region"],

  // Source: internal/service/ec2/vpc_security_group.go (v6.7+ copy) + region guide.
  "aws:ec2/securityGroup:SecurityGroup": ["description", "name", "namePrefix", "region", "vpcId"],

  // Source: internal/service/ec2/vpc_subnet.go (2026 copy) + region guide.
  // ipv6CidrBlock is not listed: whether it replaces depends on the values (CustomizeDiff), not
  // transcribed here; this program assigns no IPv6.
  "aws:ec2/subnet:Subnet": [
    "availabilityZone",
    "availabilityZoneId",
    "cidrBlock",
    "ipv4IpamPoolId",
    "ipv4NetmaskLength",
    "ipv6IpamPoolId",
    "ipv6Native",
    "ipv6NetmaskLength",
    "outpostArn",
    "region",
    "vpcId",
  ],

  // Source: internal/service/route53/zone.go (delegation_set_id, name ForceNew). Global: no region.
  "aws:route53/zone:Zone": ["delegationSetId", "name"],

  // Source: internal/service/elbv2/target_group.go (v6.3+ copy) + region guide.
  // targetControlPort is newer than the stored source and not listed (unverified); this program
  // never sets it.
  "aws:lb/targetGroup:TargetGroup": [
    "ipAddressType",
    "name",
    "namePrefix",
    "port",
    "protocol",
    "protocolVersion",
    "region",
    "targetType",
    "vpcId",
  ],

  // Source: internal/service/ec2/vpc_route_table.go (vpc_id ForceNew; routes/propagatingVgws in place) + region guide.
  "aws:ec2/routeTable:RouteTable": ["region", "vpcId"],

  // Source: internal/service/route53/record.go (2026 copy): name, zone_id ForceNew.
  // type and setIdentifier are handled in Update (no replacement). Global: no region.
  "aws:route53/record:Record": ["name", "zoneId"],

  // Source: internal/service/ec2/vpc_security_group_ingress_rule.go (framework; security_group_id
  // RequiresReplace; ModifyPlan for source-type switch) + region guide.
  "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ["region", "securityGroupId"],

  // Source: same shared framework base as the ingress rule (securityGroupRuleResource) + region guide.
  "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ["region", "securityGroupId"],

  // Source: internal/service/ec2/vpc_nat_gateway.go (2026 copy, incl. regional NAT availability_mode) + region guide.
  "aws:ec2/natGateway:NatGateway": [
    "allocationId",
    "availabilityMode",
    "connectivityType",
    "privateIp",
    "region",
    "subnetId",
    "vpcId",
  ],

  // Source: internal/service/rds/subnet_group.go (name/name_prefix ForceNew; description+subnetIds in place) + region guide.
  "aws:rds/subnetGroup:SubnetGroup": ["name", "namePrefix", "region"],

  // Source: internal/service/elbv2/load_balancer.go (v6 copy) + region guide.
  // subnets, subnetMappings, securityGroups and secondaryIpsAutoAssignedPerSubnet are not listed:
  // the provider replaces a load balancer for some changes of them from its CustomizeDiff, value
  // rules not transcribed here.
  "aws:lb/loadBalancer:LoadBalancer": [
    "customerOwnedIpv4Pool",
    "internal",
    "loadBalancerType",
    "name",
    "namePrefix",
    "region",
  ],

  // Source: internal/service/ec2/vpc_route_table_association.go (gateway_id, subnet_id ForceNew;
  // route_table_id uses ReplaceRouteTableAssociation, in place) + region guide.
  "aws:ec2/routeTableAssociation:RouteTableAssociation": ["gatewayId", "region", "subnetId"],

  // Source: internal/service/kms/replica_key.go (primary_key_arn ForceNew) + region guide.
  "aws:kms/replicaKey:ReplicaKey": ["primaryKeyArn", "region"],

  // Source: internal/service/secretsmanager/secret.go (name/name_prefix ForceNew) + region guide.
  // `type` (managed external secrets) is newer than the stored source. It is included because the
  // current doc (website/docs/r/secretsmanager_secret.html.markdown and the @pulumi/aws .d.ts) says
  // "This attribute cannot be changed after creation". That is inferred, not read from the schema.
  "aws:secretsmanager/secret:Secret": ["name", "namePrefix", "region", "type"],

  // Source: internal/service/ec2/ec2_instance.go (isometry fork, late-2024 v5 copy) for the schema and
  // CustomizeDiff, checked against website/docs/r/instance.html.markdown (2026, matches 7.48 inputs)
  // for the newer attributes, + region guide. Nested-only entries: see NESTED_REPLACE_ON_CHANGE.
  // primaryNetworkInterface is inferred (the primary ENI can't be swapped in place); not read from source.
  "aws:ec2/instance:Instance": [
    "ami",
    "associatePublicIpAddress",
    "availabilityZone",
    "cpuOptions",
    "ebsBlockDevices",
    "ebsOptimized",
    "enclaveOptions",
    "ephemeralBlockDevices",
    "hibernation",
    "hostId",
    "instanceMarketOptions",
    "ipv6Addresses",
    "keyName",
    "launchTemplate",
    "networkInterfaces",
    "placementGroup",
    "placementPartitionNumber",
    "primaryNetworkInterface",
    "privateIp",
    "region",
    "rootBlockDevice",
    "secondaryNetworkInterfaces",
    "securityGroups",
    "subnetId",
    "tenancy",
  ],

  // Source: internal/service/elbv2/listener.go (only load_balancer_arn ForceNew) + region guide.
  "aws:lb/listener:Listener": ["loadBalancerArn", "region"],

  // Source: internal/service/secretsmanager/secret_version.go (v6.10+ copy) + region guide.
  // secretStringWo is write-only, so it is never diffed; rotating it means bumping secretStringWoVersion (ForceNew).
  "aws:secretsmanager/secretVersion:SecretVersion": [
    "region",
    "secretBinary",
    "secretId",
    "secretString",
    "secretStringWoVersion",
  ],

  // Source: internal/service/elbv2/target_group_attachment.go (all inputs ForceNew, no Update;
  // quic_server_id ForceNew also stated in the .d.ts: "Forces replacement if modified") + region guide.
  "aws:lb/targetGroupAttachment:TargetGroupAttachment": [
    "availabilityZone",
    "port",
    "quicServerId",
    "region",
    "targetGroupArn",
    "targetId",
  ],

  // Source: internal/service/rds/instance.go (isometry fork, late-2024 copy; checked against hashicorp copies)
  // + region guide. engineVersion is NOT force-new (ModifyDBInstance; major upgrades need
  // allowMajorVersionUpgrade=true). identifier/identifierPrefix are NOT force-new since provider v5 (rename in place).
  // Newer inputs (databaseInsightsMode, passwordWo(+Version), upgradeStorageConfig, warningEventCategories,
  // dedicatedLogVolume, engineLifecycleSupport) are in-place per source/docs. restoreToPointInTime: block ForceNew
  // (replacement when the block is added or removed). s3Import: nested-only, see NESTED_REPLACE_ON_CHANGE.
  "aws:rds/instance:Instance": [
    "availabilityZone",
    "backupTarget",
    "characterSetName",
    "customIamInstanceProfile",
    "dbName",
    "engine",
    "kmsKeyId",
    "ncharCharacterSetName",
    "region",
    "restoreToPointInTime",
    "s3Import",
    "snapshotIdentifier",
    "storageEncrypted",
    "timezone",
    "username",
  ],

  // Source: internal/service/secretsmanager/secret_policy.go (secret_arn ForceNew) + region guide.
  "aws:secretsmanager/secretPolicy:SecretPolicy": ["region", "secretArn"],

  // Source: internal/service/ec2/vpc_peering_connection.go (peer_owner_id, peer_region, peer_vpc_id, vpc_id ForceNew)
  // + region guide. accepter/requester option blocks and autoAccept are in place.
  "aws:ec2/vpcPeeringConnection:VpcPeeringConnection": [
    "peerOwnerId",
    "peerRegion",
    "peerVpcId",
    "region",
    "vpcId",
  ],

  // Source: internal/service/route53/zone_association.go (zone_id, vpc_id, vpc_region ForceNew; no Update). Global: no region.
  "aws:route53/zoneAssociation:ZoneAssociation": ["vpcId", "vpcRegion", "zoneId"],

  // Source: internal/service/ec2/vpc_peering_connection_accepter.go (vpc_peering_connection_id ForceNew) + region guide.
  "aws:ec2/vpcPeeringConnectionAccepter:VpcPeeringConnectionAccepter": [
    "region",
    "vpcPeeringConnectionId",
  ],

  // Source: internal/service/s3/bucket.go (bucket, bucket_prefix, object_lock_enabled ForceNew; the
  // deprecated object_lock_configuration's object_lock_enabled too, see NESTED_REPLACE_ON_CHANGE),
  // read in a fork that tracks v6, + region guide.
  "aws:s3/bucket:Bucket": [
    "bucket",
    "bucketPrefix",
    "objectLockConfiguration",
    "objectLockEnabled",
    "region",
  ],

  // Source: internal/service/s3/bucket_public_access_block.go (bucket ForceNew; the four switches
  // in place) + region guide.
  "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ["bucket", "region"],

  // Source: internal/service/s3/object.go (bucket and key ForceNew; a new content is uploaded in
  // place) + region guide.
  "aws:s3/bucketObjectv2:BucketObjectv2": ["bucket", "key", "region"],

  // Source: internal/service/ec2/vpc_endpoint.go (schema; dns_options' two private DNS fields, see
  // NESTED_REPLACE_ON_CHANGE; route tables, policy and subnets in place) + region guide. Its
  // CustomizeDiff also replaces a Gateway endpoint whose private_dns_enabled changes, a value rule
  // not transcribed here: this program never sets it.
  "aws:ec2/vpcEndpoint:VpcEndpoint": [
    "dnsOptions",
    "region",
    "resourceConfigurationArn",
    "serviceName",
    "serviceNetworkArn",
    "serviceRegion",
    "vpcEndpointType",
    "vpcId",
  ],

  // Source: internal/service/ec2/vpc_route.go (route_table_id + the 3 destination attrs ForceNew; targets use
  // ReplaceRoute, in place) + region guide.
  "aws:ec2/route:Route": [
    "destinationCidrBlock",
    "destinationIpv6CidrBlock",
    "destinationPrefixListId",
    "region",
    "routeTableId",
  ],

  // Source: hashicorp/terraform-provider-tls internal/provider/resource_private_key.go (2026 copy; all RequiresReplace).
  "tls:index/privateKey:PrivateKey": ["algorithm", "ecdsaCurve", "rsaBits"],

  // Source: hashicorp/terraform-provider-tls internal/provider/resource_self_signed_cert.go (RequiresReplace on all
  // certificate-content attributes; subject block RequiresReplace; private_key_pem uses
  // requireReplaceIfStateContainsPEMString, i.e. replace when the key changes). earlyRenewalHours is in place
  // (but the cert is replaced once it is within the renewal window, a time-based replacement, not an input change).
  // Inferred, not read from the stored source: maxPathLength (same kind as the other cert-content fields) and
  // privateKeyPemWoVersion (.d.ts: "increment it to force the certificate to be re-issued").
  "tls:index/selfSignedCert:SelfSignedCert": [
    "allowedUses",
    "dnsNames",
    "ipAddresses",
    "isCaCertificate",
    "maxPathLength",
    "privateKeyPem",
    "privateKeyPemWoVersion",
    "setAuthorityKeyId",
    "setSubjectKeyId",
    "subject",
    "uris",
    "validityPeriodHours",
  ],

  // Source: internal/service/route53resolver/endpoint.go (direction, security_group_ids ForceNew;
  // ip_address associated and disassociated in place, name and tags updated) + region guide.
  "aws:route53/resolverEndpoint:ResolverEndpoint": ["direction", "region", "securityGroupIds"],

  // Source: hashicorp/terraform-provider-random internal/provider/resource_string.go (shares the
  // password's schema: every input RequiresReplace, keepers when its values change).
  "random:index/randomString:RandomString": RANDOM_STRING_INPUTS,

  // Source: hashicorp/terraform-provider-random internal/provider/resource_id.go (byte_length,
  // keepers, prefix RequiresReplace).
  "random:index/randomId:RandomId": ["byteLength", "keepers", "prefix"],

  // Source: hashicorp/terraform-provider-random internal/provider/resource_password.go (schema V3: every input
  // RequiresReplace; keepers = RequiresReplaceIfValuesNotNull; overrideSpecial = replace unless "" -> null).
  "random:index/randomPassword:RandomPassword": RANDOM_STRING_INPUTS,
};
