/** The channel intake, operator actions and callbacks NOTIFY when a task becomes claimable. */
export const WAKE_CHANNEL = 'runwarden_tasks';
