import random, math
random.seed(0)
d=128; dh=32; L=40
def ln(x):
    m=sum(x)/len(x); x=[v-m for v in x]; r=math.sqrt(sum(v*v for v in x)/len(x)+1e-5); return [v/r for v in x]
pos=[[0.0]*d for _ in range(L+2)]
for p in range(L+2):
    for k in range(d//2):
        a=p/10000**(2*k/d); pos[p][2*k]=math.sin(a); pos[p][2*k+1]=math.cos(a)
for KP,scale,posamp,CF in [(5,8,1,0.5),(5,8,1,0.7),(8,8,1,0.5),(8,8,1,0.7),(3,10,1,0.6)]:
  if 1:
    tot=[0.0]*5; n=0
    for trial in range(4):
        E=[[random.gauss(0,0.02) for _ in range(d)] for _ in range(L)]
        x=[ln(ln([E[i][j]+pos[i+2][j]*0.02*math.sqrt(2)*posamp for j in range(d)])) for i in range(L)]
        Wq=[[random.gauss(0,0.02) for _ in range(d)] for _ in range(dh)]
        Wk=[[random.gauss(0,0.02)+(1 if r==c else 0) for c in range(d)] for r in range(dh)]
        for r_ in range(dh):
            for c_ in range(dh): Wq[r_][c_]=0.0
        for k in range(KP):
            a=1/10000**(2*k/d); c,s=math.cos(a),math.sin(a)
            cc=CF*c; Wq[2*k][2*k]=scale*(c-cc); Wq[2*k][2*k+1]=scale*s; Wq[2*k+1][2*k]=-scale*s; Wq[2*k+1][2*k+1]=scale*(c-cc)
        q=[[sum(Wq[o][j]*xi[j] for j in range(d)) for o in range(dh)] for xi in x]
        kk=[[sum(Wk[o][j]*xi[j] for j in range(d)) for o in range(dh)] for xi in x]
        for i in range(2,L-3):
            S=[sum(a*b for a,b in zip(q[i],kk[j]))/math.sqrt(dh) for j in range(L)]
            mx=max(S); e=[math.exp(v-mx) for v in S]; z=sum(e)
            for t in range(5): tot[t]+=e[i-1+t]/z
            n+=1
    print("pairs",KP,"cf",CF,"scale",scale,"posamp",posamp,"attn on i-1,i,i+1,i+2,i+3:",[round(v/n,3) for v in tot])
