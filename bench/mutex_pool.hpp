// The simplest correct pool, as a baseline: a std::mutex, a condition
// variable and a vector of free slot numbers. What a pool costs when nobody
// optimised it.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <vector>

namespace sandpool::bench {

class mutex_pool {
 public:
  explicit mutex_pool(std::size_t size) {
    for (std::size_t i = 0; i < size; ++i) free_.push_back(i);
  }
  std::size_t lease() {
    std::unique_lock lk(mutex_);
    cv_.wait(lk, [&] { return !free_.empty(); });
    const std::size_t slot = free_.back();
    free_.pop_back();
    return slot;
  }
  void give_back(std::size_t slot) {
    {
      std::lock_guard lk(mutex_);
      free_.push_back(slot);
    }
    cv_.notify_one();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::size_t> free_;
};

}  // namespace sandpool::bench
