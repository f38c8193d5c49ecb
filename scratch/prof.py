import json,sys,collections,os
for f in sorted(sys.argv[1:]):
    p=json.load(open(f))
    nodes={n['id']:n for n in p['nodes']}
    dt=collections.Counter()
    samples=p['samples']; deltas=p['timeDeltas']
    for s,d in zip(samples,deltas): dt[s]+=d
    total=sum(dt.values())/1e6
    self_by=collections.Counter(); by_url=collections.Counter()
    # inclusive by function
    parent={}
    for n in p['nodes']:
        for c in n.get('children',[]): parent[c]=n['id']
    incl=collections.Counter()
    for nid,t in dt.items():
        cf=nodes[nid]['callFrame']
        key=f"{cf['functionName'] or '(anon)'} {os.path.basename(cf['url'])}:{cf['lineNumber']}"
        self_by[key]+=t
        u=cf['url']
        seg='(native)' if not u else ('node_modules/'+u.split('node_modules/')[-1].split('/')[0]+('/'+u.split('node_modules/')[-1].split('/')[1] if u.split('node_modules/')[-1].startswith('@') else '')) if 'node_modules' in u else (u.split('/work/main/')[-1] if '/work/main/' in u else u[:60])
        by_url[seg]+=t
        seen=set(); x=nid
        while x is not None:
            cf=nodes[x]['callFrame']; k=f"{cf['functionName'] or '(anon)'} {os.path.basename(cf['url'])}:{cf['lineNumber']}"
            if k not in seen: incl[k]+=t; seen.add(k)
            x=parent.get(x)
    print(f"== {os.path.basename(f)} total {total:.1f}s")
    for k,v in self_by.most_common(int(os.environ.get('TOP','20'))): print(f"  self {v/1e6:6.2f}  {k}")
    for k,v in by_url.most_common(12): print(f"  url  {v/1e6:6.2f}  {k}")
    if os.environ.get('INCL'):
        for k,v in incl.most_common(int(os.environ.get('INCL'))): print(f"  incl {v/1e6:6.2f}  {k}")
