// Copyright: gmsa.farm contributors
// GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Native calls of gmsa.farm.host_native, loaded with
//   #AnsibleRequires -CSharpUtil ansible_collections.gmsa.farm.plugins.module_utils.GmsaNative
// PRIVATE to the collection. Each method makes one Windows call and returns what Windows answered (NTSTATUS,
// state, flag); nothing here decides or throws on a Windows answer. The decisions are made on the controller
// (plugins/plugin_utils/_gmsa_host.py), where tests execute them. Only what no well-kept module offers is here:
// netapi32's managed-service-account calls (no RSAT), the computer's join information, and a read of the rights
// LSA assigns to one SID (ansible.windows.win_user_right writes them).
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Security.Principal;

namespace ansible_collections.gmsa.farm.plugins.module_utils.GmsaNative
{
    public class MsaProbe
    {
        public int QueryStatus;
        public int QueryState;
        public int IsServiceStatus;
        public bool IsService;
    }

    public class JoinInfo
    {
        public int Status;
        public string Name;
        public int JoinStatus;
    }

    internal static class NativeMethods
    {
        [StructLayout(LayoutKind.Sequential)]
        public struct MSA_INFO_0
        {
            public int State;
        }

        [DllImport("netapi32.dll", CharSet = CharSet.Unicode)]
        public static extern int NetAddServiceAccount(string ServerName, string AccountName, string Password,
            uint Flags);

        [DllImport("netapi32.dll", CharSet = CharSet.Unicode)]
        public static extern int NetRemoveServiceAccount(string ServerName, string AccountName, uint Flags);

        [DllImport("netapi32.dll", CharSet = CharSet.Unicode)]
        public static extern int NetQueryServiceAccount(string ServerName, string AccountName, uint InfoLevel,
            out IntPtr Buffer);

        [DllImport("netapi32.dll", CharSet = CharSet.Unicode)]
        public static extern int NetIsServiceAccount(string ServerName, string AccountName,
            [MarshalAs(UnmanagedType.Bool)] out bool IsService);

        [DllImport("netapi32.dll", CharSet = CharSet.Unicode)]
        public static extern int NetGetJoinInformation(string Server, out IntPtr NameBuffer, out int BufferType);

        [DllImport("netapi32.dll")]
        public static extern int NetApiBufferFree(IntPtr Buffer);

        [StructLayout(LayoutKind.Sequential)]
        public struct LSA_UNICODE_STRING
        {
            public ushort Length;
            public ushort MaximumLength;
            public IntPtr Buffer;
        }

        [StructLayout(LayoutKind.Sequential)]
        public struct LSA_OBJECT_ATTRIBUTES
        {
            public int Length;
            public IntPtr RootDirectory;
            public IntPtr ObjectName;
            public uint Attributes;
            public IntPtr SecurityDescriptor;
            public IntPtr SecurityQualityOfService;
        }

        public const uint POLICY_LOOKUP_NAMES = 0x00000800;
        public const int STATUS_OBJECT_NAME_NOT_FOUND = unchecked((int)0xC0000034);

        [DllImport("advapi32.dll")]
        public static extern int LsaOpenPolicy(IntPtr SystemName, ref LSA_OBJECT_ATTRIBUTES ObjectAttributes,
            uint DesiredAccess, out IntPtr PolicyHandle);

        [DllImport("advapi32.dll")]
        public static extern int LsaClose(IntPtr ObjectHandle);

        [DllImport("advapi32.dll")]
        public static extern int LsaFreeMemory(IntPtr Buffer);

        [DllImport("advapi32.dll")]
        public static extern int LsaEnumerateAccountRights(IntPtr PolicyHandle, byte[] AccountSid,
            out IntPtr UserRights, out uint CountOfRights);
    }

    public static class ServiceAccounts
    {
        // Test-ADServiceAccount's query and the Netlogon-store test, in one probe. The name has no domain and no $.
        public static MsaProbe Probe(string accountName)
        {
            MsaProbe probe = new MsaProbe();
            IntPtr buffer;
            probe.QueryStatus = NativeMethods.NetQueryServiceAccount(null, accountName, 0, out buffer);
            if (probe.QueryStatus == 0)
            {
                try
                {
                    NativeMethods.MSA_INFO_0 info = (NativeMethods.MSA_INFO_0)Marshal.PtrToStructure(buffer,
                        typeof(NativeMethods.MSA_INFO_0));
                    probe.QueryState = info.State;
                }
                finally
                {
                    NativeMethods.NetApiBufferFree(buffer);
                }
            }
            bool isService;
            probe.IsServiceStatus = NativeMethods.NetIsServiceAccount(null, accountName, out isService);
            probe.IsService = probe.IsServiceStatus == 0 && isService;
            return probe;
        }

        // Install-ADServiceAccount: NetAddServiceAccount(NULL, name, NULL, SERVICE_ACCOUNT_FLAG_LINK_TO_HOST_ONLY).
        public static int Add(string accountName)
        {
            return NativeMethods.NetAddServiceAccount(null, accountName, null, 0x1);
        }

        // Uninstall-ADServiceAccount: flags 1 (unlink from this host only) or 2 (remove the offline record).
        public static int Remove(string accountName, uint flags)
        {
            return NativeMethods.NetRemoveServiceAccount(null, accountName, flags);
        }

        // The NetBIOS name of the domain this computer is joined to (BufferType 3 = NetSetupDomainName).
        public static JoinInfo Join()
        {
            JoinInfo join = new JoinInfo();
            IntPtr name;
            join.Status = NativeMethods.NetGetJoinInformation(null, out name, out join.JoinStatus);
            if (join.Status == 0)
            {
                try
                {
                    join.Name = Marshal.PtrToStringUni(name);
                }
                finally
                {
                    NativeMethods.NetApiBufferFree(name);
                }
            }
            return join;
        }
    }

    public static class AccountRights
    {
        // The rights LSA assigns to this SID directly (not through its groups). Returns the NTSTATUS; an account
        // with no rights is STATUS_OBJECT_NAME_NOT_FOUND and an empty list.
        public static int Get(string sid, List<string> rights)
        {
            SecurityIdentifier s = new SecurityIdentifier(sid);
            byte[] sidBytes = new byte[s.BinaryLength];
            s.GetBinaryForm(sidBytes, 0);
            NativeMethods.LSA_OBJECT_ATTRIBUTES attributes = new NativeMethods.LSA_OBJECT_ATTRIBUTES();
            attributes.Length = Marshal.SizeOf(typeof(NativeMethods.LSA_OBJECT_ATTRIBUTES));
            IntPtr policy;
            int status = NativeMethods.LsaOpenPolicy(IntPtr.Zero, ref attributes, NativeMethods.POLICY_LOOKUP_NAMES,
                out policy);
            if (status != 0)
                return status;
            try
            {
                IntPtr buffer;
                uint count;
                status = NativeMethods.LsaEnumerateAccountRights(policy, sidBytes, out buffer, out count);
                if (status == NativeMethods.STATUS_OBJECT_NAME_NOT_FOUND)
                    return 0;
                if (status != 0)
                    return status;
                try
                {
                    int size = Marshal.SizeOf(typeof(NativeMethods.LSA_UNICODE_STRING));
                    for (int i = 0; i < count; i++)
                    {
                        NativeMethods.LSA_UNICODE_STRING entry = (NativeMethods.LSA_UNICODE_STRING)Marshal.PtrToStructure(
                            new IntPtr(buffer.ToInt64() + (long)i * size), typeof(NativeMethods.LSA_UNICODE_STRING));
                        rights.Add(Marshal.PtrToStringUni(entry.Buffer, entry.Length / 2));
                    }
                }
                finally
                {
                    NativeMethods.LsaFreeMemory(buffer);
                }
            }
            finally
            {
                NativeMethods.LsaClose(policy);
            }
            return 0;
        }
    }
}
