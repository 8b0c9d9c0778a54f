// InstanceRegistry: named instances and the single/multi-instance mode.

#include <map>

#include "absl/strings/str_cat.h"
#include "jetback/mutex.h"
#include "engine/instance_impl.h"
#include "jetback/status.h"

namespace jetback {

struct InstanceRegistry::Rep {
  jetback::Mutex mu;
  std::map<std::string, std::unique_ptr<InstanceImpl>, std::less<>> instances
      ABSL_GUARDED_BY(mu);
};

InstanceRegistry::InstanceRegistry() : rep_(std::make_unique<Rep>()) {}

InstanceRegistry::~InstanceRegistry() {
  jetback::MutexLock lock(&rep_->mu);
  for (auto& [name, inst] : rep_->instances) {
    if (inst->initialized()) inst->Term(TermMode::kAbrupt).IgnoreError();
  }
  rep_->instances.clear();
}

absl::StatusOr<Instance*> InstanceRegistry::Create(InstanceOptions o) {
  const uint32_t ps = o.page_size;
  if (o.name.empty() || o.log_dir.empty() || o.system_dir.empty() ||
      o.base_name.size() != 3 ||
      (ps != 4096 && ps != 8192 && ps != 16384 && ps != 32768) ||
      o.log_file_size < 64 * 1024 || o.log_file_size % 4096 != 0 ||
      o.log_file_size > (1ULL << 30) || o.cache_pages == 0) {
    return JetStatus(jet::JET_errInvalidParameter,
                     "bad instance options (name, directories, 3-character "
                     "base name, page size 4/8/16/32 KiB, log file size "
                     "64 KiB..1 GiB in 4 KiB steps, cache pages)");
  }
  jetback::MutexLock lock(&rep_->mu);
  if (rep_->instances.count(o.name) != 0) {
    return JetStatus(jet::JET_errInvalidParameter,
                     absl::StrCat("instance exists: ", o.name));
  }
  std::string name = o.name;
  auto inst = std::make_unique<InstanceImpl>(std::move(o));
  Instance* raw = inst.get();
  rep_->instances[name] = std::move(inst);
  return raw;
}

absl::StatusOr<Instance*> InstanceRegistry::Lookup(absl::string_view name) {
  jetback::MutexLock lock(&rep_->mu);
  if (name.empty()) {
    if (rep_->instances.size() > 1) {
      return JetStatus(jet::JET_errRunningInMultiInstanceMode,
                       "several instances: name one");
    }
    if (rep_->instances.empty()) {
      return JetStatus(jet::JET_errInvalidParameter, "no instance");
    }
    return rep_->instances.begin()->second.get();
  }
  auto it = rep_->instances.find(name);
  if (it == rep_->instances.end()) {
    return JetStatus(jet::JET_errInvalidParameter,
                     absl::StrCat("no instance named ", name));
  }
  return it->second.get();
}

absl::Status InstanceRegistry::Remove(absl::string_view name) {
  std::unique_ptr<InstanceImpl> inst;
  {
    jetback::MutexLock lock(&rep_->mu);
    auto it = rep_->instances.find(name);
    if (it == rep_->instances.end()) {
      return JetStatus(jet::JET_errInvalidParameter,
                       absl::StrCat("no instance named ", name));
    }
    inst = std::move(it->second);
    rep_->instances.erase(it);
  }
  if (inst->initialized()) return inst->Term(TermMode::kAbrupt);
  return absl::OkStatus();
}

std::vector<Instance*> InstanceRegistry::List() {
  jetback::MutexLock lock(&rep_->mu);
  std::vector<Instance*> out;
  for (auto& [name, inst] : rep_->instances) out.push_back(inst.get());
  return out;
}

bool InstanceRegistry::multi_instance_mode() {
  jetback::MutexLock lock(&rep_->mu);
  return rep_->instances.size() > 1;
}

}  // namespace jetback
