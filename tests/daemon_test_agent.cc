// A backup agent for the lease test: begins a backup of `instance` over
// `socket`, opens the first database, reads one ReadFile chunk, prints
// "streaming <backup_id>" and then hangs mid-stream until it is killed.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cstdio>

#include "jetback/v1/backup.grpc.pb.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s SOCKET INSTANCE\n", argv[0]);
    return 2;
  }
  auto stub = jetback::v1::Backup::NewStub(grpc::CreateChannel(
      std::string("unix:") + argv[1], grpc::InsecureChannelCredentials()));
  grpc::ClientContext begin_ctx;
  jetback::v1::BeginBackupRequest begin;
  begin.set_instance(argv[2]);
  begin.set_client_name("daemon_test_agent");
  jetback::v1::BeginBackupResponse begun;
  if (!stub->BeginBackup(&begin_ctx, begin, &begun).ok()) return 1;
  jetback::v1::BackupCall call;
  call.set_instance(argv[2]);
  call.set_backup_id(begun.backup_id());
  jetback::v1::AttachInfo attach;
  grpc::ClientContext attach_ctx;
  if (!stub->GetAttachInfo(&attach_ctx, call, &attach).ok()) return 1;
  jetback::v1::OpenFileRequest open;
  open.set_instance(argv[2]);
  open.set_backup_id(begun.backup_id());
  open.set_name(attach.databases(0));
  jetback::v1::OpenFileResponse opened;
  grpc::ClientContext open_ctx;
  if (!stub->OpenFile(&open_ctx, open, &opened).ok()) return 1;
  jetback::v1::ReadFileRequest read;
  read.set_instance(argv[2]);
  read.set_backup_id(begun.backup_id());
  grpc::ClientContext read_ctx;
  auto reader = stub->ReadFile(&read_ctx, read);
  jetback::v1::FileChunk chunk;
  if (!reader->Read(&chunk)) return 1;
  std::printf("streaming %s\n", begun.backup_id().c_str());
  std::fflush(stdout);
  while (true) pause();  // killed here, mid-stream
}
