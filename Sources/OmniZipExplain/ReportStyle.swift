/// The page's only stylesheet, inlined: no external assets. Colours are chosen so each role
/// reads without the legend: blue audio kept by score, amber anchors (pale amber what merged
/// into them), teal/purple video kept in even (DPC-kNN) / odd (temporal) frames, grey dropped.
enum ReportStyle {
    static let css = """
        :root{--dom:#3465c8;--anc:#d99400;--mrg:#f5d47a;--even:#13907d;--odd:#7650c0;--drop:#eef0f4;--line:#d3d8e0;--ink:#1d2330;--mute:#5d6676;--hot:#4ac16d}
        *{box-sizing:border-box}
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);margin:0;background:#fff}
        main{max-width:1900px;margin:0 auto;padding:20px 28px 40px}
        @media (min-width:1300px){.cols{display:grid;grid-template-columns:minmax(0,1fr) 640px;gap:0 32px;align-items:start}}
        h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
        h3{font-size:14px;margin:14px 0 6px}h3 span{font-weight:400;color:var(--mute)}
        .lead{font-size:16px;margin:4px 0 12px}.mute{color:var(--mute)}
        .cards{display:flex;gap:12px;flex-wrap:wrap;margin:10px 0}
        .card{border:1px solid var(--line);border-radius:6px;padding:8px 12px;min-width:170px}
        .card b{font-size:18px;display:block}
        .legend{display:flex;gap:16px;flex-wrap:wrap;margin:6px 0 10px;color:var(--mute);font-size:13px}
        .legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;vertical-align:-1px}
        .scroll{overflow-x:auto}#clip svg{max-width:100%;height:auto}
        .chunks{display:flex;flex-wrap:wrap;gap:14px 34px}.chunk h3{margin:8px 0 4px}.chunk h3 span{display:block;font-size:12px}
        .frames{display:flex;flex-wrap:wrap;gap:8px 12px;align-items:flex-start}
        figure{margin:0;width:min-content}.chunk figure{min-width:150px}figcaption{font-size:11px;color:var(--mute);margin-top:2px}
        .thumbs{display:flex;flex-wrap:wrap;gap:10px}
        .thumb{border:1px solid var(--line);border-radius:4px;padding:4px 6px}
        .thumb .frames{gap:4px;flex-wrap:nowrap}.thumb figcaption{margin:0}
        table{border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums}
        th,td{padding:2px 10px;text-align:right;border-bottom:1px solid #edf0f4}th{color:var(--mute);font-weight:500}
        dl.params{display:grid;grid-template-columns:max-content auto;gap:2px 14px;margin:6px 0}dl.params dt{color:var(--mute)}dl.params dd{margin:0}
        svg{display:block}
        .bg{fill:var(--drop)}.grid{fill:url(#cells)}
        .kv rect{stroke:#fff;stroke-width:.12}.kv.e{fill:var(--even)}.kv.o{fill:var(--odd)}.kv.w{fill:var(--even)}
        .ka rect,.m rect{stroke:#fff;stroke-width:.12}.d{fill:var(--dom)}.a{fill:var(--anc)}.m{fill:var(--mrg)}
        .links{fill:none;stroke:var(--anc);stroke-width:.14;opacity:.75}
        .bar-a{fill:var(--dom)}.bar-v{fill:var(--even)}.base{stroke:var(--ink);stroke-width:2}.target{stroke:var(--ink);stroke-dasharray:3 3;stroke-width:1;opacity:.6}
        .axis{stroke:var(--line)}.lbl{font-size:11px;fill:var(--mute)}.lbl.k{fill:var(--ink)}
        .hm rect.x{opacity:.28}.hmf .kv rect{fill:none;stroke:#111;stroke-width:.09}
        .h0{fill:#440154}.h1{fill:#46327e}.h2{fill:#365c8d}.h3{fill:#277f8e}.h4{fill:#1fa187}.h5{fill:#4ac16d}.h6{fill:#a0da39}.h7{fill:#fde725}
        .legend i.ramp{width:64px;background:linear-gradient(90deg,#440154,#365c8d,#1fa187,#a0da39,#fde725)}
        .sb{fill:#f7f8fa}.bd{fill:var(--dom)}.ba{fill:var(--anc)}.bm{fill:var(--mrg)}.bx{fill:#b9c0cb}.bars rect{stroke:#fff;stroke-width:.1}
        .cut{fill:none;stroke:var(--ink);stroke-width:1.2px;stroke-dasharray:4 3;vector-effect:non-scaling-stroke}
        table.merges td{white-space:nowrap}
        footer{margin-top:30px;color:var(--mute);font-size:12px}
        """
}
