using System.ComponentModel;
using Kbl.Configuration;

namespace Kbl.NodeGroups;

/// <summary>How desired states travel to whoever acts on them: <c>Kbl:Provisioning:Queue</c>.</summary>
[TypeConverter(typeof(SettingEnumConverter))]
public enum QueueKind
{
    /// <summary>A durable spool directory on this machine (the default).</summary>
    Local,

    /// <summary>An SQS queue.</summary>
    Sqs,
}
