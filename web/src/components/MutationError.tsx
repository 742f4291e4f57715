import { errorMessage } from '../api/client';

/** Why a form's submission failed, announced to screen readers; nothing while it has not failed. */
export function MutationError({ mutation }: { mutation: { isError: boolean; error: unknown } }) {
  if (!mutation.isError) return null;
  return (
    <p className="form-error" role="alert">
      {errorMessage(mutation.error)}
    </p>
  );
}
