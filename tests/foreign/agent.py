"""A foreign backup agent: Python grpcio with stubs generated from proto/.

Nothing of jetback's client library is used, so this checks what the
contract promises any well-behaved gRPC client: the ESE call order, chunk
and whole-file digests, ReadFile with and without wire_codec, -1003 for an
unknown codec, and a StopBackup reaching a paced reader as ABORTED with
JetError -801, its reason and its initiator.

Usage: agent.py STUB_DIR SOCKET INSTANCE
"""
import sys

STUB_DIR, SOCKET, INSTANCE = sys.argv[1:4]
sys.path.insert(0, STUB_DIR)

import grpc  # noqa: E402
import xxhash  # noqa: E402
import zstandard  # noqa: E402
from google.rpc import status_pb2  # noqa: E402
from jetback.v1 import backup_pb2 as pb  # noqa: E402
from jetback.v1 import backup_pb2_grpc as rpc  # noqa: E402
from jetback.v1 import errors_pb2  # noqa: E402

channel = grpc.insecure_channel("unix:" + SOCKET)
stub = rpc.BackupStub(channel)
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def jet_error(err):
    """The JetError of a failed call, from grpc-status-details-bin."""
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                je = errors_pb2.JetError()
                if detail.Unpack(je):
                    return je
    return None


def begin():
    b = stub.BeginBackup(pb.BeginBackupRequest(instance=INSTANCE, client_name="py-agent"))
    return b.backup_id


def read(backup_id, name, codec=None):
    """Reads one file; returns (bytes, bytes on the wire)."""
    opened = stub.OpenFile(pb.OpenFileRequest(instance=INSTANCE, backup_id=backup_id, name=name))
    req = pb.ReadFileRequest(instance=INSTANCE, backup_id=backup_id, handle=opened.handle)
    if codec is not None:
        req.wire_codec = codec
    out, wire, last = bytearray(), 0, None
    unzstd = zstandard.ZstdDecompressor()
    for chunk in stub.ReadFile(req):
        wire += len(chunk.data)
        if chunk.codec == pb.CHUNK_CODEC_ZSTD:
            check(codec is not None, f"{name}: a compressed chunk nobody asked for")
            data = unzstd.decompress(chunk.data, max_output_size=chunk.raw_size)
            check(len(data) == chunk.raw_size, f"{name}: raw_size")
        else:
            check(chunk.codec == 0 and chunk.raw_size == 0, f"{name}: plain chunk fields")
            data = chunk.data
        check(chunk.offset == len(out), f"{name}: offset {chunk.offset} != {len(out)}")
        check(xxhash.xxh3_64_intdigest(data) == chunk.xxh3, f"{name}: chunk xxh3 (raw bytes)")
        out += data
        last = chunk
    check(last is not None and last.last, f"{name}: no last message")
    check(last.file_size == len(out) == opened.size, f"{name}: sizes")
    check(xxhash.xxh3_128_digest(bytes(out)) == last.xxh3_128, f"{name}: file xxh3_128")
    stub.CloseFile(pb.CloseFileRequest(instance=INSTANCE, backup_id=backup_id, handle=opened.handle))
    return bytes(out), wire


def backup(codec):
    """One full backup in ESE order: databases, then the log list."""
    backup_id = begin()
    call = pb.BackupCall(instance=INSTANCE, backup_id=backup_id)
    files, wire = {}, 0
    dbs = list(stub.GetAttachInfo(call).databases)
    check(len(dbs) > 0, "no databases listed")
    for name in dbs:
        files[name], w = read(backup_id, name, codec)
        wire += w
    for name in stub.GetLogInfo(call).files:
        files[name], w = read(backup_id, name, codec)
        wire += w
    if codec is not None:  # an unknown codec: -1003, the stream unopened
        opened = stub.OpenFile(pb.OpenFileRequest(instance=INSTANCE, backup_id=backup_id, name=name))
        try:
            for _ in stub.ReadFile(pb.ReadFileRequest(instance=INSTANCE, backup_id=backup_id,
                                                      handle=opened.handle, wire_codec=7)):
                pass
            check(False, "unknown wire_codec accepted")
        except grpc.RpcError as e:
            je = jet_error(e)
            check(e.code() == grpc.StatusCode.INVALID_ARGUMENT, f"unknown codec: {e.code()}")
            check(je is not None and je.jet_err == -1003, f"unknown codec: {je}")
        stub.CloseFile(pb.CloseFileRequest(instance=INSTANCE, backup_id=backup_id, handle=opened.handle))
    stub.EndBackup(pb.EndBackupRequest(instance=INSTANCE, backup_id=backup_id, grbit=0x1))
    raw = sum(len(v) for v in files.values())
    print(f"backup codec={codec}: {len(files)} files, {raw} bytes, {wire} on the wire")
    return files, raw, wire


plain, plain_raw, plain_wire = backup(None)
check(plain_wire == plain_raw, "plain stream is byte for byte")
zfiles, z_raw, z_wire = backup(pb.CHUNK_CODEC_ZSTD)
check(z_wire < z_raw, "zstd on the wire sends fewer bytes than it carries")
check(sorted(len(v) for v in zfiles.values()) != [], "zstd backup read files")

# The stop reaches a paced reader with its reason.
backup_id = begin()
call = pb.BackupCall(instance=INSTANCE, backup_id=backup_id)
db = stub.GetAttachInfo(call).databases[0]
opened = stub.OpenFile(pb.OpenFileRequest(instance=INSTANCE, backup_id=backup_id, name=db))
stream = stub.ReadFile(pb.ReadFileRequest(instance=INSTANCE, backup_id=backup_id,
                                          handle=opened.handle, max_bytes_per_second=8192))
chunks = 0
try:
    for chunk in stream:
        chunks += 1
        if chunks == 1:
            stopped = stub.StopBackup(pb.StopBackupRequest(instance=INSTANCE,
                                                           reason="foreign agent check"))
            check(stopped.backup_was_running and stopped.backup_id == backup_id,
                  f"StopBackup response {stopped}")
    check(False, f"paced stream ended normally after {chunks} chunks despite the stop")
except grpc.RpcError as e:
    je = jet_error(e)
    check(e.code() == grpc.StatusCode.ABORTED, f"stopped stream: {e.code()}")
    check(je is not None and je.jet_err == -801 and je.reason == "foreign agent check"
          and je.initiator.startswith("uid:"), f"stopped stream JetError: {je}")
    print(f"stop: after {chunks} chunk(s): {e.code()} {je.jet_err if je else None} "
          f"reason={je.reason if je else None!r} initiator={je.initiator if je else None}")
# From then on streaming calls fail with -801; ending is allowed.
try:
    stub.GetLogInfo(call)
    check(False, "GetLogInfo after the stop succeeded")
except grpc.RpcError as e:
    je = jet_error(e)
    check(je is not None and je.jet_err == -801, f"GetLogInfo after the stop: {je}")
stub.EndBackup(pb.EndBackupRequest(instance=INSTANCE, backup_id=backup_id, grbit=0x2))

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("foreign agent: all checks passed")
