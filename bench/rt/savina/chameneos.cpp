// Savina Chameneos: C = 100 chameneos meet N = 200,000 times through a mall actor.
#include <cstdint>
#include <memory>
#include <variant>
#include <vector>

#include <capsule/rt/rt.hpp>

#include "rt_common.hpp"

namespace rt = capsule::rt;
constexpr int kChameneos = 100;
constexpr int kMeetings = 200000;

enum class Color : std::uint8_t { kRed, kYellow, kBlue, kFaded };
Color complement(Color a, Color b) {
  if (a == b) return a;
  if (a == Color::kRed) return b == Color::kYellow ? Color::kBlue : Color::kYellow;
  if (a == Color::kYellow) return b == Color::kRed ? Color::kBlue : Color::kRed;
  return b == Color::kRed ? Color::kYellow : Color::kRed;
}

struct Start {};
struct MeetWith {
  int partner;
  Color color;
};
struct Change {
  Color color;
};
struct Exit {};
using ChamMsg = std::variant<Start, MeetWith, Change, Exit>;
struct MeetRequest {
  int id;
  Color color;
};
struct Exited {
  int meetings;
};
using MallMsg = std::variant<Start, MeetRequest, Exited>;
using Chams = std::vector<rt::ActorRef<ChamMsg>>;

class Mall final : public rt::Actor<MallMsg> {
 public:
  Mall(std::shared_ptr<const Chams> chams, savina::Latch* done)
      : chams_(std::move(chams)), done_(done) {}
  capsule::Status handle(MallMsg& msg, rt::ActorContext<MallMsg>& /*ctx*/) override {
    if (std::holds_alternative<Start>(msg)) {
      meetings_ = exited_ = 0;
      waiting_ = -1;
      for (const auto& c : *chams_) c.tell(Start{});
    } else if (auto* req = std::get_if<MeetRequest>(&msg)) {
      if (meetings_ == kMeetings) {
        at(req->id).tell(Exit{});
        if (waiting_ >= 0) at(waiting_).tell(Exit{});
        waiting_ = -1;
      } else if (waiting_ < 0) {
        waiting_ = req->id;
        waiting_color_ = req->color;
      } else {
        ++meetings_;
        at(waiting_).tell(MeetWith{req->id, req->color});
        waiting_ = -1;
      }
    } else if (++exited_ == kChameneos) {
      done_->arrive();
    }
    return capsule::ok();
  }

 private:
  const rt::ActorRef<ChamMsg>& at(int id) const { return (*chams_)[static_cast<std::size_t>(id)]; }
  std::shared_ptr<const Chams> chams_;
  savina::Latch* done_;
  int meetings_ = 0;
  int exited_ = 0;
  int waiting_ = -1;
  Color waiting_color_ = Color::kRed;
};

class Chameneo final : public rt::Actor<ChamMsg> {
 public:
  Chameneo(int id, std::shared_ptr<const Chams> chams, std::shared_ptr<rt::ActorRef<MallMsg>> mall)
      : id_(id), chams_(std::move(chams)), mall_(std::move(mall)) {}
  capsule::Status handle(ChamMsg& msg, rt::ActorContext<ChamMsg>& /*ctx*/) override {
    if (std::holds_alternative<Start>(msg)) {
      color_ = static_cast<Color>(id_ % 3);
      meetings_ = 0;
      request();
    } else if (auto* meet = std::get_if<MeetWith>(&msg)) {
      color_ = complement(color_, meet->color);
      ++meetings_;
      (*chams_)[static_cast<std::size_t>(meet->partner)].tell(Change{color_});
      request();
    } else if (auto* change = std::get_if<Change>(&msg)) {
      color_ = change->color;
      ++meetings_;
      request();
    } else {
      color_ = Color::kFaded;
      mall_->tell(Exited{meetings_});
    }
    return capsule::ok();
  }

 private:
  void request() { mall_->tell(MeetRequest{id_, color_}); }
  int id_;
  std::shared_ptr<const Chams> chams_;
  std::shared_ptr<rt::ActorRef<MallMsg>> mall_;
  Color color_ = Color::kRed;
  int meetings_ = 0;
};

int main(int argc, char** argv) {
  rt::ActorSystem system(savina_rt::system_config(argc, argv));
  savina::Latch done;
  auto chams = std::make_shared<Chams>();
  auto mall_slot = std::make_shared<rt::ActorRef<MallMsg>>();
  for (int i = 0; i < kChameneos; ++i) {
    chams->push_back(*system.spawn<Chameneo>({}, i, chams, mall_slot));
  }
  *mall_slot = *system.spawn<Mall>({}, chams, &done);  // wired before any message flows
  return savina::run("chameneos", argc, argv, [&] {
    done.reset(1);
    mall_slot->tell(Start{});
    done.wait();
  });
}
