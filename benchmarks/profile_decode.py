"""Profile one decode with pyinstrument and print where the time goes (top frames by own time).

    python benchmarks/profile_decode.py --planner dilated --batch 16
"""

from __future__ import annotations

from common import parser, save, setup, task_prompts

import unmask


def main():
    p = parser(__doc__)
    p.add_argument("--planner", default="dilated")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--gen-length", type=int, default=256)
    p.add_argument("--block-length", type=int, default=32)
    args = p.parse_args()
    from pyinstrument import Profiler

    model = setup(args)
    prompts = task_prompts("arith", args.batch)
    kwargs = dict(planner=args.planner, gen_length=args.gen_length, block_length=args.block_length,
                  eos_early_stop=False)
    unmask.generate(model, prompts, **kwargs)
    profiler = Profiler(interval=0.0005)
    profiler.start()
    unmask.generate(model, prompts, **kwargs)
    session = profiler.stop()
    own: dict[str, float] = {}

    def walk(frame, owner):
        # pyinstrument's "[self]" pseudo-frames hold their parent's own time: charge it to that parent
        if frame.function.startswith("["):
            own[owner] = own.get(owner, 0.0) + frame.time
            return
        key = f"{frame.function} ({frame.file_path_short}:{frame.line_no})"
        for child in frame.children:
            walk(child, key)

    walk(session.root_frame(), "<root>")
    total = session.duration
    top = sorted(own.items(), key=lambda kv: -kv[1])[:10]
    for name, seconds in top:
        print(f"{100 * seconds / total:5.1f}%  {seconds:.3f}s  {name}")
    save(f"profile_{args.planner}_b{args.batch}", {"total_seconds": total,
         "top": [{"frame": n, "seconds": s, "share": s / total} for n, s in top]}, args.out)


if __name__ == "__main__":
    main()
