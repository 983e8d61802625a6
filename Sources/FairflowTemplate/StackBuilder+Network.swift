import Foundation

extension StackBuilder {
    // MARK: network

    func network() {
        add("Vpc", "AWS::EC2::VPC", [
            ("CidrBlock", "10.0.0.0/16"), ("EnableDnsHostnames", true), ("EnableDnsSupport", true), ("Tags", tags("vpc")),
        ])
        add("InternetGateway", "AWS::EC2::InternetGateway", [("Tags", tags("igw"))])
        add("VpcGatewayAttachment", "AWS::EC2::VPCGatewayAttachment", [
            ("VpcId", CFN.ref("Vpc")), ("InternetGatewayId", CFN.ref("InternetGateway")),
        ])
        let cidrs = ["10.0.0.0/18", "10.0.64.0/18", "10.0.128.0/18", "10.0.192.0/18"]
        for i in 1...2 {
            add("PublicSubnet\(i)", "AWS::EC2::Subnet", [
                ("VpcId", CFN.ref("Vpc")), ("CidrBlock", .string(cidrs[i - 1])), ("AvailabilityZone", CFN.az(i - 1)),
                ("MapPublicIpOnLaunch", false), ("Tags", tags("public-\(i)")),
            ])
        }
        for i in 1...2 {
            add("PrivateSubnet\(i)", "AWS::EC2::Subnet", [
                ("VpcId", CFN.ref("Vpc")), ("CidrBlock", .string(cidrs[i + 1])), ("AvailabilityZone", CFN.az(i - 1)),
                ("Tags", tags("private-\(i)")),
            ])
        }
        add("PublicRouteTable", "AWS::EC2::RouteTable", [("VpcId", CFN.ref("Vpc")), ("Tags", tags("public"))])
        add("PublicDefaultRoute", "AWS::EC2::Route", [
            ("RouteTableId", CFN.ref("PublicRouteTable")), ("DestinationCidrBlock", "0.0.0.0/0"),
            ("GatewayId", CFN.ref("InternetGateway")),
        ], dependsOn: ["VpcGatewayAttachment"])
        for i in 1...2 {
            add("PublicSubnet\(i)RouteTableAssociation", "AWS::EC2::SubnetRouteTableAssociation", [
                ("SubnetId", CFN.ref("PublicSubnet\(i)")), ("RouteTableId", CFN.ref("PublicRouteTable")),
            ])
        }
        for i in 1...2 {
            add("NatEip\(i)", "AWS::EC2::EIP", [("Domain", "vpc"), ("Tags", tags("nat-\(i)"))],
                dependsOn: ["VpcGatewayAttachment"])
            add("NatGateway\(i)", "AWS::EC2::NatGateway", [
                ("AllocationId", CFN.getAtt("NatEip\(i)", "AllocationId")), ("SubnetId", CFN.ref("PublicSubnet\(i)")),
                ("Tags", tags("nat-\(i)")),
            ])
            add("PrivateRouteTable\(i)", "AWS::EC2::RouteTable", [("VpcId", CFN.ref("Vpc")), ("Tags", tags("private-\(i)"))])
            add("PrivateDefaultRoute\(i)", "AWS::EC2::Route", [
                ("RouteTableId", CFN.ref("PrivateRouteTable\(i)")), ("DestinationCidrBlock", "0.0.0.0/0"),
                ("NatGatewayId", CFN.ref("NatGateway\(i)")),
            ])
            add("PrivateSubnet\(i)RouteTableAssociation", "AWS::EC2::SubnetRouteTableAssociation", [
                ("SubnetId", CFN.ref("PrivateSubnet\(i)")), ("RouteTableId", CFN.ref("PrivateRouteTable\(i)")),
            ])
        }
    }

    var privateSubnets: Node { [CFN.ref("PrivateSubnet1"), CFN.ref("PrivateSubnet2")] }

    // MARK: security groups

    /// The ALB's listener ports: HTTP 80 (or HTTPS 443 with a certificate) for the UI, 5555 for Flower.
    var uiPort: Int { https ? 443 : 80 }

    func securityGroups() {
        let sources: [String] = o.ipWhitelist.isEmpty ? ["0.0.0.0/0"] : o.ipWhitelist.compactMap(IPv4.cidr)
        var albIngress: [Node] = []
        for cidr in sources {
            for port in [uiPort, 5555] {
                albIngress.append([
                    "IpProtocol": "tcp", "FromPort": .int(port), "ToPort": .int(port), "CidrIp": .string(cidr),
                    "Description": .string(o.ipWhitelist.isEmpty ? "Airflow \(port == 5555 ? "Flower" : "UI") from anywhere" : "IP allow-list"),
                ])
            }
        }
        add("AlbSecurityGroup", "AWS::EC2::SecurityGroup", [
            ("GroupDescription", "fairflow load balancer"),
            ("VpcId", CFN.ref("Vpc")),
            ("SecurityGroupIngress", .array(albIngress)),
            ("SecurityGroupEgress", [
                ["IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "DestinationSecurityGroupId": CFN.getAtt("TasksSecurityGroup", "GroupId"), "Description": "to the Airflow UI"],
                ["IpProtocol": "tcp", "FromPort": 5555, "ToPort": 5555, "DestinationSecurityGroupId": CFN.getAtt("TasksSecurityGroup", "GroupId"), "Description": "to Flower"],
            ]),
            ("Tags", tags("alb")),
        ])
        let groups: [(String, String)] = [
            ("TasksSecurityGroup", "fairflow Airflow tasks"),
            ("ExternalTasksSecurityGroup", "fairflow on-demand external tasks"),
            ("DatabaseSecurityGroup", "fairflow MySQL"),
            ("RedisSecurityGroup", "fairflow Redis broker"),
            ("EfsSecurityGroup", "fairflow EFS mount targets"),
        ] + (o.bastion ? [("BastionSecurityGroup", "fairflow bastion")] : [])
        for (id, desc) in groups {
            var props: [(String, Node)] = [("GroupDescription", .string(desc)), ("VpcId", CFN.ref("Vpc"))]
            if id == "BastionSecurityGroup", let ssh = o.sshIngressCidr.flatMap(IPv4.cidr) {
                props.append(("SecurityGroupIngress", [[
                    "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": .string(ssh), "Description": "SSH (--ssh-ingress-cidr)",
                ]]))
            }
            props.append(("Tags", tags(String(id.dropLast("SecurityGroup".count)).lowercased())))
            add(id, "AWS::EC2::SecurityGroup", props)
        }
        // Only the ALB reaches 8080/5555; only the tasks (and the bastion) reach 3306/6379/2049.
        var rules: [(String, String, Int, String)] = [
            ("TasksIngressFromAlbUi", "TasksSecurityGroup", 8080, "AlbSecurityGroup"),
            ("TasksIngressFromAlbFlower", "TasksSecurityGroup", 5555, "AlbSecurityGroup"),
            ("TasksIngressLogServer", "TasksSecurityGroup", 8793, "TasksSecurityGroup"),
        ]
        if a3 { rules.append(("TasksIngressExecutionApi", "TasksSecurityGroup", 8080, "TasksSecurityGroup")) }
        rules += [
            ("DatabaseIngressFromTasks", "DatabaseSecurityGroup", 3306, "TasksSecurityGroup"),
            ("RedisIngressFromTasks", "RedisSecurityGroup", 6379, "TasksSecurityGroup"),
            ("EfsIngressFromTasks", "EfsSecurityGroup", 2049, "TasksSecurityGroup"),
            ("EfsIngressFromExternalTasks", "EfsSecurityGroup", 2049, "ExternalTasksSecurityGroup"),
        ]
        if o.bastion {
            rules += [
                ("DatabaseIngressFromBastion", "DatabaseSecurityGroup", 3306, "BastionSecurityGroup"),
                ("EfsIngressFromBastion", "EfsSecurityGroup", 2049, "BastionSecurityGroup"),
            ]
        }
        let what: [Int: String] = [8080: "Airflow UI / API", 5555: "Flower", 8793: "worker log server", 3306: "MySQL", 6379: "Redis", 2049: "NFS"]
        for (id, group, port, source) in rules {
            add(id, "AWS::EC2::SecurityGroupIngress", [
                ("GroupId", CFN.getAtt(group, "GroupId")), ("IpProtocol", "tcp"), ("FromPort", .int(port)), ("ToPort", .int(port)),
                ("SourceSecurityGroupId", CFN.getAtt(source, "GroupId")),
                ("Description", .string("\(what[port] ?? "") from \(source.dropLast("SecurityGroup".count))")),
            ])
        }
    }
}
