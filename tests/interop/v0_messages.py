#!/usr/bin/env python3
"""Upstream v0 messages, encoded by upstream's generated Python code.

`mesos.interface` 1.11.0 ships `mesos_pb2`, which protoc generated from
upstream's own include/mesos/mesos.proto; run by protobuf's Python runtime
it encodes and decodes exactly as upstream does.

usage:
  v0_messages.py [emit]          print `<full type name> <hex>` per message:
                                 a varied set of mesos.* messages, each
                                 serialized with SerializeToString()
  v0_messages.py check [ORACLE.pb]
                                 read `<full type name> <hex>` lines on
                                 stdin; each must parse (ParseFromString),
                                 be initialized (all required fields present
                                 at every depth) and carry no unknown field;
                                 prints one verdict per line, exits 1 if any
                                 failed. Types are looked up in mesos_pb2,
                                 then (e.g. mesos.internal.*, mesos.v1.*) in
                                 the upstream descriptor set ORACLE.pb if
                                 given, parsed by protobuf's generic
                                 reflection-based classes
  v0_messages.py descriptor OUT  write mesos_pb2's FileDescriptorProto (named
                                 mesos/mesos.proto, as in the oracle) as a
                                 FileDescriptorSet, for compare_descriptors.py
"""

import binascii
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from mesos.interface import mesos_pb2 as m

UUID = bytes(range(0xF0, 0x100))  # 16 bytes, none of them valid UTF-8 alone


def labels(*pairs):
    result = m.Labels()
    for key, value in pairs:
        label = result.labels.add(key=key)
        if value is not None:
            label.value = value
    return result


def scalar(name, value, role=None):
    resource = m.Resource(name=name, type=m.Value.SCALAR)
    resource.scalar.value = value
    if role is not None:
        resource.allocation_info.role = role
    return resource


def ports(*ranges):
    resource = m.Resource(name="ports", type=m.Value.RANGES)
    for begin, end in ranges:
        resource.ranges.range.add(begin=begin, end=end)
    return resource


def reserved_disk():
    """A persistent volume on a mount disk, reserved by a refined role."""
    disk = m.Resource(name="disk", type=m.Value.SCALAR)
    disk.scalar.value = 1024.5
    disk.reservations.add(type=m.Resource.ReservationInfo.STATIC, role="prod")
    dynamic = disk.reservations.add(type=m.Resource.ReservationInfo.DYNAMIC,
                                    role="prod/db", principal="ops")
    dynamic.labels.CopyFrom(labels(("reserved-by", "ops"), ("flag", None)))
    disk.disk.persistence.id = "volume-7"
    disk.disk.persistence.principal = "ops"
    disk.disk.volume.container_path = "data"
    disk.disk.volume.mode = m.Volume.RW
    disk.disk.source.type = m.Resource.DiskInfo.Source.MOUNT
    disk.disk.source.mount.root = "/mnt/disk0"
    disk.disk.source.id = "disk0"
    disk.disk.source.profile = "fast"
    disk.shared.SetInParent()
    return disk


def gpu_set():
    resource = m.Resource(name="gpus-ids", type=m.Value.SET)
    resource.set.item.extend(["gpu0", "gpu1", "ünïcode"])
    resource.revocable.SetInParent()
    return resource


def command():
    cmd = m.CommandInfo(value="/usr/bin/env", shell=False, user="nobody")
    cmd.arguments.extend(["env", "-i", "A=b c", ""])
    cmd.uris.add(value="https://example.org/a.tar.gz", extract=True, cache=True)
    cmd.uris.add(value="hdfs:///bin/tool", executable=True, extract=False,
                 output_file="tool")
    cmd.environment.variables.add(name="PLAIN", value="1")
    secret = cmd.environment.variables.add(name="TOKEN", type=m.Environment.Variable.SECRET)
    secret.secret.type = m.Secret.VALUE
    secret.secret.value.data = b"\x00\xffsecret"
    ref = cmd.environment.variables.add(name="REF", type=m.Environment.Variable.SECRET)
    ref.secret.type = m.Secret.REFERENCE
    ref.secret.reference.name = "/vault/key"
    ref.secret.reference.key = "k"
    return cmd


def docker_container():
    container = m.ContainerInfo(type=m.ContainerInfo.DOCKER, hostname="box")
    container.docker.image = "library/nginx:1.19"
    container.docker.network = m.ContainerInfo.DockerInfo.BRIDGE
    container.docker.port_mappings.add(host_port=31000, container_port=80, protocol="tcp")
    container.docker.port_mappings.add(host_port=31001, container_port=53, protocol="udp")
    container.docker.privileged = True
    container.docker.parameters.add(key="label", value="a=b")
    container.docker.force_pull_image = True
    container.volumes.add(container_path="/etc/conf", host_path="/srv/conf", mode=m.Volume.RO)
    sandbox = container.volumes.add(container_path="scratch", mode=m.Volume.RW)
    sandbox.source.type = m.Volume.Source.SANDBOX_PATH
    sandbox.source.sandbox_path.type = m.Volume.Source.SandboxPath.PARENT
    sandbox.source.sandbox_path.path = "shared"
    network = container.network_infos.add(name="overlay")
    network.ip_addresses.add(protocol=m.NetworkInfo.IPv6)
    network.groups.append("web")
    network.port_mappings.add(host_port=8080, container_port=80)
    return container


def mesos_container():
    container = m.ContainerInfo(type=m.ContainerInfo.MESOS)
    container.mesos.image.type = m.Image.DOCKER
    container.mesos.image.docker.name = "alpine"
    container.mesos.image.cached = False
    container.linux_info.capability_info.capabilities.extend(
        [m.CapabilityInfo.NET_ADMIN, m.CapabilityInfo.SYS_ADMIN])
    container.linux_info.share_pid_namespace = True
    container.rlimit_info.rlimits.add(type=m.RLimitInfo.RLimit.RLMT_NOFILE,
                                      hard=2 ** 63 + 5, soft=1024)
    container.tty_info.window_size.rows = 24
    container.tty_info.window_size.columns = 80
    return container


def health_check_http():
    check = m.HealthCheck(type=m.HealthCheck.HTTP, delay_seconds=0.5,
                          interval_seconds=2.25, timeout_seconds=1e-3,
                          consecutive_failures=7, grace_period_seconds=0.0)
    check.http.port = 8080
    check.http.path = "/health"
    check.http.scheme = "https"
    check.http.statuses.extend([200, 204, 4294967295])
    check.http.protocol = m.NetworkInfo.IPv6
    return check


def health_check_command():
    check = m.HealthCheck(type=m.HealthCheck.COMMAND)
    check.command.CopyFrom(m.CommandInfo(value="true"))
    return check


def framework_info():
    info = m.FrameworkInfo(user="", name="Mesos framework ✓", failover_timeout=604800.0,
                           checkpoint=True, hostname="sched.example.org",
                           principal="fw", webui_url="http://sched:8080/")
    info.id.value = "20201124-155700-16777343-5050-1-0000"
    info.roles.extend(["prod", "prod/db", "dev"])
    for capability in (m.FrameworkInfo.Capability.MULTI_ROLE,
                       m.FrameworkInfo.Capability.GPU_RESOURCES,
                       m.FrameworkInfo.Capability.PARTITION_AWARE,
                       m.FrameworkInfo.Capability.REGION_AWARE):
        info.capabilities.add(type=capability)
    info.labels.CopyFrom(labels(("team", "infra")))
    info.offer_filters["prod"].min_allocatable_resources.quantities.add().quantities["cpus"].value = 0.5
    return info


def framework_info_deprecated_role():
    info = m.FrameworkInfo(user="root", name="legacy", role="*")
    return info


def executor_info():
    info = m.ExecutorInfo(type=m.ExecutorInfo.CUSTOM, name="exec", source="src",
                          data=b"\x01\x02\x03\xfe")
    info.executor_id.value = "executor-1"
    info.framework_id.value = "fw-1"
    info.command.CopyFrom(command())
    info.container.CopyFrom(mesos_container())
    info.resources.extend([scalar("cpus", 0.1), scalar("mem", 32.0)])
    info.discovery.visibility = m.DiscoveryInfo.CLUSTER
    info.discovery.name = "exec"
    info.discovery.ports.ports.add(number=80, name="http", protocol="tcp")
    info.shutdown_grace_period.nanoseconds = 5 * 10 ** 9
    info.labels.CopyFrom(labels(("k", "v")))
    return info


def task_info_command():
    task = m.TaskInfo(name="web", data=b"\xff\x00payload")
    task.task_id.value = "task-1"
    task.slave_id.value = "agent-1"
    task.resources.extend([scalar("cpus", 1.5, role="prod"), scalar("mem", 128.0),
                           ports((31000, 31001), (31005, 31010)), reserved_disk(), gpu_set()])
    task.command.CopyFrom(command())
    task.container.CopyFrom(docker_container())
    task.health_check.CopyFrom(health_check_http())
    task.check.type = m.CheckInfo.TCP
    task.check.tcp.port = 9000
    task.check.delay_seconds = 3.0
    task.kill_policy.grace_period.nanoseconds = -1
    task.labels.CopyFrom(labels(("a", "1"), ("b", "2")))
    task.discovery.visibility = m.DiscoveryInfo.EXTERNAL
    task.max_completion_time.nanoseconds = 2 ** 62
    task.limits["cpus"].value = 2.5
    return task


def task_info_executor():
    task = m.TaskInfo(name="")
    task.task_id.value = "task-2"
    task.slave_id.value = "agent-1"
    task.executor.CopyFrom(executor_info())
    task.health_check.CopyFrom(health_check_command())
    return task


def attributes():
    text = m.Attribute(name="rack", type=m.Value.TEXT)
    text.text.value = "r1"
    number = m.Attribute(name="weight", type=m.Value.SCALAR)
    number.scalar.value = -0.25
    ranges = m.Attribute(name="ids", type=m.Value.RANGES)
    ranges.ranges.range.add(begin=0, end=2 ** 64 - 1)
    items = m.Attribute(name="zones", type=m.Value.SET)
    items.set.item.extend(["a", "b"])
    return [text, number, ranges, items]


def domain():
    info = m.DomainInfo()
    info.fault_domain.region.name = "eu-west"
    info.fault_domain.zone.name = "eu-west-1a"
    return info


def offer():
    result = m.Offer(hostname="agent1.example.org")
    result.id.value = "offer-1"
    result.framework_id.value = "fw-1"
    result.slave_id.value = "agent-1"
    result.url.scheme = "http"
    result.url.address.hostname = "agent1"
    result.url.address.ip = "10.0.0.1"
    result.url.address.port = 5051
    result.url.path = "/slave(1)"
    result.url.query.add(key="q", value="1")
    result.domain.CopyFrom(domain())
    result.resources.extend([scalar("cpus", 4.0, role="prod"), ports((1, 65535)), reserved_disk()])
    result.attributes.extend(attributes())
    result.executor_ids.add(value="executor-1")
    result.unavailability.start.nanoseconds = 1606233420 * 10 ** 9
    result.unavailability.duration.nanoseconds = 3600 * 10 ** 9
    result.allocation_info.role = "prod"
    return result


def task_status():
    status = m.TaskStatus(state=m.TASK_FAILED, message="exit 1: \"boom\"\n",
                          source=m.TaskStatus.SOURCE_EXECUTOR,
                          reason=m.TaskStatus.REASON_CONTAINER_LIMITATION_MEMORY,
                          data=b"\x00\x01binary\xff\xfe", timestamp=1606233420.123456,
                          uuid=UUID, healthy=False)
    status.task_id.value = "task-1"
    status.slave_id.value = "agent-1"
    status.executor_id.value = "executor-1"
    status.check_status.type = m.CheckInfo.COMMAND
    status.check_status.command.exit_code = -1
    status.labels.CopyFrom(labels(("x", "y")))
    status.container_status.container_id.value = "container-1"
    status.container_status.container_id.parent.value = "parent"
    status.container_status.network_infos.add().ip_addresses.add(ip_address="10.1.2.3")
    status.container_status.cgroup_info.net_cls.classid = 0xFFFFFFFF
    status.container_status.executor_pid = 4242
    status.unreachable_time.nanoseconds = 1
    status.limitation.resources.extend([scalar("mem", 64.0)])
    return status


def task_status_minimal():
    status = m.TaskStatus(state=m.TASK_STAGING)
    status.task_id.value = ""
    return status


def slave_info():
    info = m.SlaveInfo(hostname="agent1", port=5052, checkpoint=True)
    info.id.value = "agent-1"
    info.resources.extend([scalar("cpus", 8.0), ports((31000, 32000))])
    info.attributes.extend(attributes())
    info.domain.CopyFrom(domain())
    return info


def master_info():
    info = m.MasterInfo(id="master-1", ip=0xFFFFFFFF, port=5050, pid="master@127.0.0.1:5050",
                        hostname="localhost", version="1.11.0")
    info.address.hostname = "localhost"
    info.address.ip = "127.0.0.1"
    info.address.port = 5050
    info.domain.CopyFrom(domain())
    for capability in (m.MasterInfo.Capability.AGENT_UPDATE,
                       m.MasterInfo.Capability.AGENT_DRAINING,
                       m.MasterInfo.Capability.QUOTA_V2):
        info.capabilities.add(type=capability)
    return info


def task():
    result = m.Task(name="web", state=m.TASK_RUNNING, user="nobody")
    result.task_id.value = "task-1"
    result.framework_id.value = "fw-1"
    result.slave_id.value = "agent-1"
    result.executor_id.value = "executor-1"
    result.resources.extend([scalar("cpus", 1.0)])
    result.statuses.add().CopyFrom(task_status())
    result.status_update_state = m.TASK_FAILED
    result.status_update_uuid = UUID
    result.container.CopyFrom(docker_container())
    return result


def operation():
    op = m.Offer.Operation(type=m.Offer.Operation.LAUNCH)
    op.id.value = "op-1"
    op.launch.task_infos.add().CopyFrom(task_info_command())
    return op


def messages():
    """The messages `emit` prints, in order."""
    return [
        framework_info(),
        framework_info_deprecated_role(),
        m.FrameworkID(value="fw-1"),
        task_info_command(),
        task_info_executor(),
        reserved_disk(),
        gpu_set(),
        ports((0, 0), (2 ** 63, 2 ** 64 - 1)),
        offer(),
        operation(),
        task_status(),
        task_status_minimal(),
        slave_info(),
        master_info(),
        labels(("only-key", None), ("ключ", "значение")),
        m.Labels(),
        health_check_http(),
        health_check_command(),
        command(),
        executor_info(),
        docker_container(),
        mesos_container(),
        task(),
        m.Filters(refuse_seconds=0.001),
        domain(),
    ]


def emit():
    for message in messages():
        assert message.IsInitialized(), message.FindInitializationErrors()
        print(message.DESCRIPTOR.full_name, binascii.hexlify(message.SerializeToString()).decode())


def unknown_fields(message, path):
    """Paths of fields in `message` (recursively) that mesos_pb2 does not know."""
    found = []
    if len(message.UnknownFields()):
        found.append(path or message.DESCRIPTOR.full_name)
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            if field.message_type.fields_by_name["value"].message_type is not None:
                for key in value:
                    found += unknown_fields(value[key], "%s.%s[%r]" % (path, field.name, key))
        elif field.label == field.LABEL_REPEATED:
            for i, item in enumerate(value):
                found += unknown_fields(item, "%s.%s[%d]" % (path, field.name, i))
        else:
            found += unknown_fields(value, "%s.%s" % (path, field.name))
    return found


def oracle_classes(path):
    """A function from full type name to a message class built from the
    upstream descriptor set at `path`."""
    fds = descriptor_pb2.FileDescriptorSet()
    with open(path, "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for proto in fds.file:
        pool.Add(proto)
    factory = message_factory.MessageFactory(pool)
    return lambda name: factory.GetPrototype(pool.FindMessageTypeByName(name))


def v0_class(name):
    if not name.startswith("mesos."):
        raise KeyError(name)
    cls = m
    for part in name[len("mesos."):].split("."):
        cls = getattr(cls, part)
    if not hasattr(cls, "DESCRIPTOR") or cls.DESCRIPTOR.full_name != name:
        raise KeyError(name)
    return cls


def check(oracle=None):
    lookup = oracle_classes(oracle) if oracle else None
    failures = total = 0
    for number, line in enumerate(sys.stdin, 1):
        line = line.strip()
        if not line:
            continue
        total += 1
        try:
            name, hexed = (line.split(" ", 1) + [""])[:2]
            try:
                cls, source = v0_class(name), "mesos_pb2"
            except (KeyError, AttributeError):
                if lookup is None:
                    raise ValueError("not a type of mesos_pb2 (and no ORACLE.pb given)")
                try:
                    cls, source = lookup(name), "oracle"
                except KeyError:
                    raise ValueError("no such upstream type") from None
            message = cls()
            message.ParseFromString(binascii.unhexlify(hexed))
            if not message.IsInitialized():
                raise ValueError("not initialized, missing %s" % message.FindInitializationErrors())
            unknown = unknown_fields(message, "")
            if unknown:
                raise ValueError("fields unknown to mesos_pb2 at %s" % unknown)
            print("ok   %s (%d bytes, %s)" % (name, len(hexed) // 2, source))
        except Exception as error:  # noqa: BLE001 - every failure is reported
            failures += 1
            print("FAIL line %d %s: %s" % (number, line[:60], error))
    print("checked %d messages: %d failed" % (total, failures))
    return 1 if failures or not total else 0


def descriptor(out):
    proto = descriptor_pb2.FileDescriptorProto()
    m.DESCRIPTOR.CopyToProto(proto)
    proto.name = "mesos/mesos.proto"
    fds = descriptor_pb2.FileDescriptorSet()
    fds.file.append(proto)
    with open(out, "wb") as f:
        f.write(fds.SerializeToString())


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "emit"
    if mode == "emit" and len(sys.argv) <= 2:
        emit()
    elif mode == "check" and len(sys.argv) in (2, 3):
        sys.exit(check(sys.argv[2] if len(sys.argv) == 3 else None))
    elif mode == "descriptor" and len(sys.argv) == 3:
        descriptor(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
