import { useEffect, useState, type FormEvent } from 'react';
import { useLocation } from 'react-router-dom';
import { useCreatePost, useMemberNames, usePosts } from '../api/hooks';
import type { Me, Post } from '../api/types';
import { QueryState } from '../components/QueryState';
import { RelativeTime } from '../components/RelativeTime';
import { initials } from '../lib/format';
import { mentionedNames, mentionSegments } from '../lib/mentions';
import { MutationError } from '../components/MutationError';

const MAX_LENGTH = 4000;

/** A post's text with its `@name` mentions highlighted (the reader's own more strongly). */
function PostBody({ body, myName }: { body: string; myName: string }) {
  return (
    <p className="post-body">
      {mentionSegments(body).map((segment, i) =>
        segment.kind === 'text' ? (
          segment.text
        ) : (
          <mark key={i} className={`mention${segment.name === myName ? ' mention-me' : ''}`}>
            {segment.text}
          </mark>
        ),
      )}
    </p>
  );
}

function PostItem({ post, author, myName, highlighted }: { post: Post; author: string; myName: string; highlighted: boolean }) {
  const mentionsMe = mentionedNames(post.body).includes(myName);
  return (
    <li id={post.id} className={`card post${highlighted ? ' highlighted' : ''}`} tabIndex={-1} aria-labelledby={`${post.id}-author`}>
      <div className="post-head">
        <span className="avatar" aria-hidden="true">
          <span className="avatar-initials">{initials(author)}</span>
        </span>
        <strong id={`${post.id}-author`}>{author}</strong>
        <span className="muted small">
          <RelativeTime iso={post.createdAt} tick={15000} />
        </span>
        {mentionsMe && <span className="badge mention-badge">@ Mentions you</span>}
      </div>
      <PostBody body={post.body} myName={myName} />
    </li>
  );
}

function Composer({ workspaceId }: { workspaceId: string }) {
  const create = useCreatePost(workspaceId);
  const [body, setBody] = useState('');

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!body.trim()) return;
    create.mutate(body, { onSuccess: () => setBody('') });
  };

  return (
    <form className="form card composer" onSubmit={submit} aria-label="Write a post">
      <label className="field">
        <span>New post</span>
        <textarea
          value={body}
          onChange={(e) => setBody(e.target.value)}
          maxLength={MAX_LENGTH}
          rows={3}
          required
          placeholder="Share an update; mention people with @name"
        />
      </label>
      <div className="composer-foot">
        <span className="muted small">Mentioned members are notified.</span>
        <button type="submit" className="button button-primary" disabled={create.isPending || !body.trim()}>
          Post
        </button>
      </div>
      <MutationError mutation={create} />
    </form>
  );
}

export function CommunityPage({ me }: { me: Me }) {
  const [workspaceId, setWorkspaceId] = useState(me.workspaces[0]?.id ?? '');
  const posts = usePosts(workspaceId);
  const nameOf = useMemberNames(me);
  const { hash } = useLocation();
  const target = hash.startsWith('#') ? decodeURIComponent(hash.slice(1)) : null;
  const targetFound = !!target && !!posts.data?.items.some((p) => p.id === target);

  // A deep link (`/community#p_…`, as mention notifications give) brings its post into view.
  useEffect(() => {
    if (!target || !targetFound) return;
    const element = document.getElementById(target);
    element?.scrollIntoView({ block: 'center' });
    element?.focus({ preventScroll: true });
  }, [target, targetFound]);

  return (
    <section className="page community" aria-labelledby="community-title">
      <div className="page-head">
        <h1 id="community-title">Community</h1>
        {me.workspaces.length > 1 && (
          <label className="field">
            <span>Workspace</span>
            <select value={workspaceId} onChange={(e) => setWorkspaceId(e.target.value)}>
              {me.workspaces.map((w) => (
                <option key={w.id} value={w.id}>
                  {w.name}
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      {workspaceId ? <Composer workspaceId={workspaceId} /> : <p className="muted">You are not a member of any workspace.</p>}
      <QueryState query={posts}>
        {(data) => (
          <>
            {target && !targetFound && (
              <p className="muted" role="status">
                That post is not among the recent ones shown here.
              </p>
            )}
            {data.items.length === 0 ? (
              <p className="muted">No posts yet. Be the first to write one.</p>
            ) : (
              <ul className="post-list" aria-label="Posts">
                {data.items.map((post) => (
                  <PostItem
                    key={post.id}
                    post={post}
                    author={nameOf(post.authorId)}
                    myName={me.name}
                    highlighted={post.id === target}
                  />
                ))}
              </ul>
            )}
          </>
        )}
      </QueryState>
    </section>
  );
}
